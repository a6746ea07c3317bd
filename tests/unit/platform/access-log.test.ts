import { describe, expect, test } from "bun:test";
import { AccessLog } from "../../../src/platform/access-log.ts";

describe("AccessLog.request", () => {
  test("makes exactly the line JSON.stringify makes of the entry, for plain and hostile values", () => {
    const cases: [string, string, number, number, string | undefined, string, string | undefined, string | undefined][] = [
      ["GET", "/api/tasks/1", 200, 1.25, "task-1", "c0ffee", undefined, "42"],
      ["POST", '/api/"quoted"\\back', 502, 0, undefined, 'a"b\\c\n\u0001', "0af7651916cd43dd8448eb211c80319c", "ü-user\u2028"],
      ["DELETE", "/api/tasks/ünïcode", 404, 12.5, "i", "", undefined, undefined],
    ];
    for (const [method, path, status, ms, upstream, cid, traceId, user] of cases) {
      const lines: string[] = [];
      const log = new AccessLog((chunk) => lines.push(chunk), 60_000);
      log.request(method, path, status, ms, upstream, cid, traceId, user);
      log.close();
      const parsed = JSON.parse(lines.join("").trim());
      const expected = { time: parsed.time, method, path, status, ms, upstream, correlation_id: cid, trace_id: traceId, user };
      expect(lines.join("")).toBe(JSON.stringify(expected) + "\n");
      expect(Number.isNaN(Date.parse(parsed.time))).toBe(false);
    }
  });
});
