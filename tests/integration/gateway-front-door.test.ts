import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startBpm, token, type BpmProcess } from "../support/bpm.ts";
import { exchange } from "../unit/transport/http1-wire.ts";

/**
 * The gateway's front door against a hostile but ordinary client: what it refuses
 * itself (and never forwards), what it routes on, and that nothing a client chooses
 * can open an instance's breaker for everyone (issue: 30 bad requests opened
 * taskService's). taskService's breaker opens at 50% of at least 5 calls.
 */

function upstream() {
  const seen: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/health") return Response.json({ status: "UP", details: {}, timestamp: Date.now() });
      seen.push(`${req.method} ${url.pathname}`);
      // as a role answers what it does not implement, and a request it cannot take
      if (req.method !== "GET" && req.method !== "POST") return Response.json({ error: "not implemented", code: "NOT_IMPLEMENTED" }, { status: 501 });
      if (url.pathname === "/api/tasks/v505") return Response.json({ error: "version", code: "HTTP_VERSION_NOT_SUPPORTED" }, { status: 505 });
      return Response.json({ ok: true });
    },
  });
  return { server, seen, instance: { address: "127.0.0.1", port: server.port } };
}

describe("gateway front door", () => {
  let bpm: BpmProcess;
  let up: ReturnType<typeof upstream>;
  let port: number;
  let bearer: string;
  beforeAll(async () => {
    up = upstream();
    bpm = await startBpm({
      roles: ["gateway"],
      config: {
        discovery: { static: { "task-service": [up.instance], "form-service": [up.instance] } },
        gateway: { rate_limit: { requests: 10_000, window: "60s" } },
      },
    });
    port = bpm.ports.gateway.http;
    bearer = `Bearer ${await token("front-1")}`;
  });
  afterAll(async () => {
    await bpm?.stop();
    up?.server.stop(true);
  });

  const send = (req: string) => exchange(port, [req]);
  const getTask = () => fetch(`${bpm.url()}/api/tasks/1`, { headers: { authorization: bearer } });

  test("a method no route serves is answered by the gateway (501 unknown, 405 with Allow, OPTIONS 204), never forwarded, and never opens the breaker", async () => {
    const before = up.seen.length;
    for (let i = 0; i < 30; i++) {
      const brew = await send(`BREW /api/tasks/1 HTTP/1.1\r\nHost: g\r\nAuthorization: ${bearer}\r\n\r\n`);
      expect(brew.answers[0]!.status).toBe(501);
      expect(JSON.parse(brew.answers[0]!.body).code).toBe("NOT_IMPLEMENTED");
      const trace = await send(`TRACE /api/tasks/1 HTTP/1.1\r\nHost: g\r\nAuthorization: ${bearer}\r\n\r\n`);
      expect(trace.answers[0]!.status).toBe(405);
      // what that path serves, from the services' API tables
      expect(trace.answers[0]!.headers.get("allow")).toBe("DELETE, GET, HEAD, PATCH, PUT, OPTIONS");
    }
    const del = await send(`DELETE /api/forms/x HTTP/1.1\r\nHost: g\r\nAuthorization: ${bearer}\r\n\r\n`);
    expect(del.answers[0]!.status).toBe(405);
    expect(del.answers[0]!.headers.get("allow")).toBe("GET, HEAD, OPTIONS");
    const options = await send("OPTIONS /api/tasks HTTP/1.1\r\nHost: g\r\n\r\n");
    expect(options.answers[0]!.status).toBe(204);
    expect(up.seen.length).toBe(before);
    expect((await getTask()).status).toBe(200);
  });

  test("an upstream's 505 or 501 (statuses about the request) is relayed but not counted against the instance", async () => {
    for (let i = 0; i < 12; i++) {
      const r = await fetch(`${bpm.url()}/api/tasks/v505`, { headers: { authorization: bearer } });
      expect(r.status).toBe(505);
    }
    expect((await getTask()).status).toBe(200);
  });

  test("control bytes, whitespace or a fragment in the target → 400, never forwarded", async () => {
    const before = up.seen.length;
    for (const target of ["/api/tasks/1\x01", "/api/tasks/1\t", "/api/tasks/\x7f", "/api/tasks/1#x", "/api/tasks/%zz"]) {
      const r = await send(`GET ${target} HTTP/1.1\r\nHost: g\r\nAuthorization: ${bearer}\r\n\r\n`);
      expect(r.answers.map((a) => a.status)).toEqual([400]);
      expect(r.closed).toBe(true);
    }
    expect(up.seen.length).toBe(before);
    expect((await getTask()).status).toBe(200);
  });

  test("non-proxied paths route on the request target, never on Host; Host exactly once and valid; OPTIONS * answered", async () => {
    const smuggled = await send("GET /health HTTP/1.1\r\nHost: h/metrics?\r\n\r\n");
    expect(smuggled.answers.map((a) => a.status)).toEqual([400]);
    const health = await send("GET /health HTTP/1.1\r\nHost: metrics\r\n\r\n");
    expect(health.answers[0]!.status).toBe(200);
    expect(JSON.parse(health.answers[0]!.body).status).toBe("UP");
    expect((await send("GET /health HTTP/1.1\r\n\r\n")).answers.map((a) => a.status)).toEqual([400]);
    expect((await send("GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")).answers.map((a) => a.status)).toEqual([400]);
    const star = await send("OPTIONS * HTTP/1.1\r\nHost: g\r\n\r\n");
    expect(star.answers[0]!.status).toBe(204);
    expect(star.answers[0]!.headers.get("allow")).toContain("GET");
  });

  test("a malformed chunked body in the same read as the head → 400, not 500, and nothing forwarded", async () => {
    const before = up.seen.length;
    const r = await send(`POST /api/tasks HTTP/1.1\r\nHost: g\r\nAuthorization: ${bearer}\r\nTransfer-Encoding: chunked\r\n\r\n5 xyz\r\nhello\r\n0\r\n\r\n`);
    expect(r.answers.map((a) => a.status)).toEqual([400]);
    expect(r.closed).toBe(true);
    expect(up.seen.length).toBe(before);
  });
});
