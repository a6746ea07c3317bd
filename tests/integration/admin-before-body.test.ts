// /admin/* on every role refuses a request without a credential from its head alone: a body
// that never finishes arriving gets its 401 (and a user's token its 403) all the same.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { authHeaders, startBpm, type BpmProcess } from "../support/bpm.ts";

let bpm: BpmProcess;
beforeAll(async () => {
  bpm = await startBpm();
});
afterAll(() => bpm?.stop());

/** Sends a head promising 1 MB and 10 bytes of it, then waits for the status line; the rest never comes. */
function statusBeforeBody(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    let text = "";
    sock.on("data", (d) => {
      text += d.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m) {
        sock.destroy();
        resolve(Number(m[1]));
      }
    });
    sock.on("error", reject);
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    sock.write(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n${extra}\r\n{"state":"`);
  });
}

const ROLES = ["gateway", "task-service", "form-service", "process-service"] as const;

test.each([...ROLES])("%s: /admin/* without a credential is 401 before the body arrives; a user's token is 403", async (role) => {
  const port = bpm.ports[role].http;
  expect(await statusBeforeBody(port, "/admin/breakers/taskService")).toBe(401);
  expect(await statusBeforeBody(port, "/admin/breakers/taskService", { "x-bpm-user-id": "1", "x-bpm-user-admin": "true" })).toBe(401);
  expect(await statusBeforeBody(port, "/admin/breakers/taskService", await authHeaders(9))).toBe(403);
});
