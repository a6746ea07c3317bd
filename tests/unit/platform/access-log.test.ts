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
      const log = new AccessLog((chunk) => lines.push(Buffer.from(chunk).toString("utf8")), 60_000);
      log.request(method, path, status, ms, upstream, cid, traceId, user);
      log.close();
      const parsed = JSON.parse(lines.join("").trim());
      const expected = { time: parsed.time, method, path, status, ms, upstream, correlation_id: cid, trace_id: traceId, user };
      expect(lines.join("")).toBe(JSON.stringify(expected) + "\n");
      expect(Number.isNaN(Date.parse(parsed.time))).toBe(false);
    }
  });

  test("lines go out in batches, whole, in order; a line too long for the buffer goes alone; write() shares the stream", () => {
    const chunks: string[] = [];
    const log = new AccessLog((chunk) => chunks.push(Buffer.from(chunk).toString("utf8")), 60_000, 4096);
    for (let i = 0; i < 200; i++) log.request("GET", `/api/tasks/${i}`, 200, i / 4, "task-1", `cid-${i}`, undefined, i % 2 ? "ü" : undefined);
    log.write({ msg: "plain", n: 1 });
    log.request("GET", `/${"x".repeat(5000)}`, 200, 1, undefined, "big", undefined, undefined);
    log.request("GET", "/after", 200, 1, undefined, "last", undefined, undefined);
    log.close();
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.endsWith("\n")).toBe(true);
    const lines = chunks.join("").trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.length).toBe(203);
    expect(lines.slice(0, 200).map((l) => l.correlation_id)).toEqual(Array.from({ length: 200 }, (_, i) => `cid-${i}`));
    expect(lines[1].user).toBe("ü");
    expect(lines[200]).toEqual({ msg: "plain", n: 1 });
    expect(lines[201].path.length).toBe(5001);
    expect(lines[202].correlation_id).toBe("last");
  });
});
