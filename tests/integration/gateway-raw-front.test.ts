import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { adminFetch, authHeaders, startBpm, token, type BpmProcess } from "../support/bpm.ts";

/**
 * The gateway with `gateway.front: raw` (bpm's HTTP/1.1 server on Bun.listen):
 * the proxy behaviours users rely on, and the protocol cases a hand-written
 * server must get right (pipelining, keep-alive, framing, limits, bad input).
 */

const BODY_LIMIT = 256 * 1024;

/** An upstream recording what reached it; /sse streams events on demand, /upload counts what it read. */
function upstream() {
  const seen: { method: string; path: string; headers: Record<string, string>; bytes: number }[] = [];
  let pushEvent: ((s: string) => void) | undefined;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/health") return Response.json({ status: "UP", details: {}, timestamp: Date.now() });
      if (url.pathname === "/api/tasks/sse") {
        const enc = new TextEncoder();
        return new Response(
          new ReadableStream({
            start(c) {
              c.enqueue(enc.encode("data: first\n\n"));
              pushEvent = (s) => c.enqueue(enc.encode(`data: ${s}\n\n`));
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        );
      }
      const body = req.body ? new Uint8Array(await req.arrayBuffer()) : new Uint8Array(0);
      seen.push({ method: req.method, path: url.pathname + url.search, headers: Object.fromEntries(req.headers), bytes: body.length });
      return Response.json({ path: url.pathname + url.search, method: req.method, bytes: body.length });
    },
  });
  return { server, seen, instance: { address: "127.0.0.1", port: server.port }, push: (s: string) => pushEvent?.(s) };
}

/** Writes `text` on a fresh connection and reads until `done(received)` or the server closes. */
async function raw(port: number, writes: (string | Uint8Array)[], done: (got: string) => boolean, gapMs = 0): Promise<{ text: string; closed: boolean }> {
  let text = "";
  let closed = false;
  let wake: () => void = () => {};
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, buf) {
        text += buf.toString("latin1");
        wake();
      },
      close() {
        closed = true;
        wake();
      },
    },
  });
  for (const w of writes) {
    socket.write(w);
    if (gapMs) await Bun.sleep(gapMs);
  }
  const until = Date.now() + 5_000;
  while (!done(text) && !closed && Date.now() < until) await new Promise<void>((r) => ((wake = r), setTimeout(r, 50)));
  // give a close that follows the response a moment to arrive
  if (!closed) await new Promise<void>((r) => ((wake = r), setTimeout(r, 150)));
  const wasClosed = closed;
  socket.end();
  return { text, closed: wasClosed };
}

const count = (text: string, what: string) => text.split(what).length - 1;

describe("gateway with the raw HTTP/1.1 front", () => {
  let bpm: BpmProcess;
  let up: ReturnType<typeof upstream>;
  let port: number;
  let bearer: string;
  beforeAll(async () => {
    up = upstream();
    bpm = await startBpm({
      roles: ["gateway"],
      config: {
        http: { body_limit_bytes: BODY_LIMIT },
        discovery: { static: { "task-service": [up.instance] } },
        gateway: { front: "raw", upstream_client: "pool", rate_limit: { requests: 40, window: "60s" }, access_log: true },
      },
    });
    port = bpm.ports.gateway.http;
    bearer = `Bearer ${await token("raw-1")}`;
  });
  afterAll(async () => {
    await bpm?.stop();
    up?.server.stop(true);
  });

  test("no token → 401 in the JSON error shape, never forwarded", async () => {
    const before = up.seen.length;
    const res = await fetch(`${bpm.url()}/api/tasks/1`, { headers: { "x-correlation-id": "raw-cid-1" } });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: "UNAUTHORIZED", correlation_id: "raw-cid-1" });
    expect(res.headers.get("x-correlation-id")).toBe("raw-cid-1");
    expect(up.seen.length).toBe(before);
  });

  test("proxies with the credential as it came (a forged identity header stripped), X-Forwarded-*, hop-by-hop fields dropped, sticky cookie", async () => {
    const res = await fetch(`${bpm.url()}/api/tasks/7?x=1`, {
      headers: { authorization: bearer, "x-bpm-user-id": "forged", connection: "keep-alive, x-drop", "x-drop": "1", "x-keep": "2", "x-correlation-id": "raw-cid-2" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: "/api/tasks/7?x=1", method: "GET", bytes: 0 });
    expect(res.headers.get("x-correlation-id")).toBe("raw-cid-2");
    expect(res.headers.get("ratelimit-limit")).toBe("40");
    expect(res.headers.get("set-cookie")).toContain("SERVERID=");
    const got = up.seen.at(-1)!;
    expect(got.headers["x-bpm-user-id"]).toBeUndefined();
    expect(got.headers.authorization).toBe(bearer);
    expect(got.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(got.headers["x-forwarded-host"]).toBe(`127.0.0.1:${port}`);
    expect(got.headers["x-forwarded-proto"]).toBe("http");
    expect(got.headers["x-correlation-id"]).toBe("raw-cid-2");
    expect(Number(got.headers["x-request-deadline"])).toBeGreaterThan(Date.now());
    expect(got.headers["x-keep"]).toBe("2");
    expect(got.headers["x-drop"]).toBeUndefined();
  });

  test("field names in any case: relayed lines keep their bytes, and the ones that must not cross are caught whatever their case", async () => {
    const head = [
      "GET /api/tasks/8 HTTP/1.1",
      "Host: evil.example",
      `Authorization: ${bearer}`,
      "X-BPM-User-ID: forged",
      "Connection: keep-alive, X-Drop",
      "X-Drop: 1",
      "TE: trailers",
      "X-Forwarded-For: 10.0.0.1",
      "X-Forwarded-Host: forged.example",
      "X-Keep-Case: Value With Spaces  ",
      "X-Correlation-ID: raw-cid-case",
    ].join("\r\n");
    const { text } = await raw(port, [`${head}\r\n\r\n`], (t) => t.endsWith("}"));
    expect(text).toStartWith("HTTP/1.1 200 OK\r\n");
    expect(text.toLowerCase()).toContain("x-correlation-id: raw-cid-case\r\n");
    const got = up.seen.at(-1)!;
    expect(got.path).toBe("/api/tasks/8");
    expect(got.headers["x-bpm-user-id"]).toBeUndefined();
    expect(got.headers.authorization).toBe(bearer);
    expect(got.headers["x-drop"]).toBeUndefined();
    expect(got.headers["te"]).toBeUndefined();
    expect(got.headers["host"]).toBe(`${up.instance.address}:${up.instance.port}`);
    expect(got.headers["x-forwarded-for"]).toBe("10.0.0.1, 127.0.0.1");
    // the client's Host, named by us (its own X-Forwarded-Host line is not passed on)
    expect(got.headers["x-forwarded-host"]).toBe("evil.example");
    expect(got.headers["x-keep-case"]).toBe("Value With Spaces");
    expect(got.headers["x-correlation-id"]).toBe("raw-cid-case");
  });

  test("one JSON access-log line per request on stdout: time, method, path, status, ms, upstream, correlation id, user", async () => {
    const res = await fetch(`${bpm.url()}/api/tasks/9?q=1`, { headers: { authorization: bearer, "x-correlation-id": "raw-cid-log" } });
    expect(res.status).toBe(200);
    const denied = await fetch(`${bpm.url()}/api/tasks/9`, { headers: { "x-correlation-id": "raw-cid-log-401" } });
    expect(denied.status).toBe(401);
    const lineOf = (cid: string) => bpm.output().split("\n").find((l) => l.includes(`"correlation_id":"${cid}"`));
    const until = Date.now() + 5_000;
    while ((lineOf("raw-cid-log") === undefined || lineOf("raw-cid-log-401") === undefined) && Date.now() < until) await Bun.sleep(50);
    const ok = JSON.parse(lineOf("raw-cid-log")!);
    expect(ok).toMatchObject({ method: "GET", path: "/api/tasks/9", status: 200, upstream: `task-service-${up.instance.address}-${up.instance.port}`, correlation_id: "raw-cid-log", user: "raw-1" });
    expect(Math.abs(Date.parse(ok.time) - Date.now())).toBeLessThan(60_000);
    expect(typeof ok.ms).toBe("number");
    const no = JSON.parse(lineOf("raw-cid-log-401")!);
    expect(no).toMatchObject({ method: "GET", path: "/api/tasks/9", status: 401, correlation_id: "raw-cid-log-401" });
    expect(no.user).toBeUndefined();
    expect(no.upstream).toBeUndefined();
  });

  test("rate limit: 429 with Retry-After, RateLimit-* headers and {error, retryAfter} after the limit", async () => {
    const h = await authHeaders("raw-limited");
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 41; i++) {
      last = await fetch(`${bpm.url()}/api/tasks/1`, { headers: h });
      statuses.push(last.status);
      if (i < 40) await last.arrayBuffer();
    }
    expect(statuses.slice(0, 40).every((s) => s === 200)).toBe(true);
    expect(statuses[40]).toBe(429);
    expect(Number(last!.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(last!.headers.get("ratelimit-remaining")).toBe("0");
    const body = (await last!.json()) as { error: string; retryAfter: number };
    expect(typeof body.error).toBe("string");
    expect(body.retryAfter).toBeGreaterThan(0);
  });

  test("POST with a JSON body and a streamed (chunked) upload reach the upstream whole", async () => {
    const small = await fetch(`${bpm.url()}/api/tasks`, { method: "POST", headers: { authorization: bearer, "content-type": "application/json" }, body: '{"title":"x"}' });
    expect(await small.json()).toMatchObject({ method: "POST", bytes: 13 });
    const chunk = new Uint8Array(16 * 1024).fill(97);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (sent >= 10) return c.close();
        sent++;
        await Bun.sleep(5);
        c.enqueue(chunk);
      },
    });
    const res = await fetch(`${bpm.url()}/api/tasks/upload`, { method: "POST", headers: { authorization: bearer }, body: stream, duplex: "half" } as RequestInit);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ bytes: 10 * 16 * 1024 });
    expect(up.seen.at(-1)!.headers["transfer-encoding"]).toBe("chunked");
  });

  test("a body over the limit → 413, by Content-Length or once a chunked upload passes it", async () => {
    const big = new Uint8Array(BODY_LIMIT + 1);
    const byLength = await fetch(`${bpm.url()}/api/tasks`, { method: "POST", headers: { authorization: bearer }, body: big });
    expect(byLength.status).toBe(413);
    expect(await byLength.json()).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 5; i++) c.enqueue(new Uint8Array(BODY_LIMIT / 4));
        c.close();
      },
    });
    const chunked = await fetch(`${bpm.url()}/api/tasks`, { method: "POST", headers: { authorization: bearer }, body: stream, duplex: "half" } as RequestInit).catch((e: Error) => e);
    // the gateway answers 413 and closes; a client still writing may see the close first
    if (chunked instanceof Response) expect(chunked.status).toBe(413);
    else expect(chunked.message).toMatch(/ECONNRESET|closed|reset/i);
  });

  test("server-sent events pass through unbuffered", async () => {
    const ac = new AbortController();
    const res = await fetch(`${bpm.url()}/api/tasks/sse`, { headers: { authorization: bearer }, signal: ac.signal });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    expect(dec.decode((await reader.read()).value)).toContain("data: first");
    up.push("second");
    expect(dec.decode((await reader.read()).value)).toContain("data: second");
    ac.abort();
  });

  test("pipelined requests are answered in order on one connection", async () => {
    const req = (id: number) => `GET /api/tasks/${id} HTTP/1.1\r\nhost: x\r\nauthorization: ${bearer}\r\n\r\n`;
    const { text, closed } = await raw(port, [req(1) + req(2) + req(3)], (t) => count(t, "HTTP/1.1 200") === 3 && t.endsWith("}"));
    expect(count(text, "HTTP/1.1 200 OK")).toBe(3);
    const order = [...text.matchAll(/"path":"\/api\/tasks\/(\d)"/g)].map((m) => m[1]);
    expect(order).toEqual(["1", "2", "3"]);
    expect(closed).toBe(false);
  });

  test("keep-alive: one connection serves requests one after another; Connection: close ends it", async () => {
    const req = (id: number, extra = "") => `GET /api/tasks/${id} HTTP/1.1\r\nhost: x\r\nauthorization: ${bearer}\r\n${extra}\r\n`;
    const { text, closed } = await raw(port, [req(1), req(2), req(3, "connection: close\r\n")], (t) => count(t, "HTTP/1.1 200") === 3, 100);
    expect(count(text, "HTTP/1.1 200 OK")).toBe(3);
    expect(text).toContain("connection: close");
    expect(closed).toBe(true);
  });

  test("HTTP/1.0: answered, then closed unless keep-alive was asked for", async () => {
    const { text, closed } = await raw(port, [`GET /api/tasks/4 HTTP/1.0\r\nauthorization: ${bearer}\r\n\r\n`], () => false);
    expect(text.startsWith("HTTP/1.1 200 OK")).toBe(true);
    expect(text).toContain('"path":"/api/tasks/4"');
    expect(closed).toBe(true);
  });

  test("Expect: 100-continue gets 100 Continue before the body is sent", async () => {
    const head = `POST /api/tasks HTTP/1.1\r\nhost: x\r\nauthorization: ${bearer}\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n`;
    let text = "";
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data: (_s, b) => void (text += b.toString("latin1")) } });
    socket.write(head);
    for (let i = 0; i < 100 && !text.includes("100 Continue"); i++) await Bun.sleep(10);
    expect(text).toStartWith("HTTP/1.1 100 Continue\r\n\r\n");
    socket.write("hello");
    for (let i = 0; i < 100 && !text.includes('"bytes":5'); i++) await Bun.sleep(10);
    expect(text).toContain('"bytes":5');
    socket.end();
  });

  test("malformed requests → 400 and the connection closes; an oversized head → 431", async () => {
    for (const bad of ["GARBAGE\r\n\r\n", "GET /api/tasks/1 HTTP/1.1\r\nhost x\r\n\r\n", "GET /api/tasks/1 HTTP/1.1\r\nhost: x\r\n folded\r\n\r\n", "GET /a HTTP/1.1\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n"]) {
      const { text, closed } = await raw(port, [bad], () => false);
      expect(text).toStartWith("HTTP/1.1 400");
      expect(closed).toBe(true);
    }
    const huge = `GET /api/tasks/1 HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(70 * 1024)}\r\n\r\n`;
    const r = await raw(port, [huge], () => false);
    expect(r.text).toStartWith("HTTP/1.1 431");
    expect(r.closed).toBe(true);
  });

  test("routes it does not proxy (health, metrics, gateway services) still answer through the admin app", async () => {
    const health = await fetch(`${bpm.url()}/health`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { status: string }).status).toBe("UP");
    const metrics = await fetch(`${bpm.url()}/metrics`);
    expect(await metrics.text()).toContain("http_requests_total");
    const services = await fetch(`${bpm.url()}/api/_gateway/services`, { headers: { authorization: bearer } });
    expect(services.status).toBe(200);
  });
});

describe("gateway direct path: retries after the first attempt", () => {
  // two real task-service instances; one answers every /api request with an injected 503
  let bad: BpmProcess;
  let good: BpmProcess;
  let bpm: BpmProcess;
  const injected = async () => ((await (await adminFetch(`${bad.url("task-service")}/admin/faults`)).json()) as { injected: number }).injected;
  beforeAll(async () => {
    bad = await startBpm({ roles: ["task-service"], env: { BPM_FAULT_INJECTION: "1" }, config: { fault_injection: { enabled: true } } });
    good = await startBpm({ roles: ["task-service"] });
    const fault = await adminFetch(`${bad.url("task-service")}/admin/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ status: 503, path_prefix: "/api/" }) });
    expect(fault.status).toBe(200);
    const instances = [bad, good].map((p) => ({ address: "127.0.0.1", port: p.ports["task-service"].http }));
    bpm = await startBpm({
      roles: ["gateway"],
      config: {
        discovery: { static: { "task-service": instances } },
        load_balancer: { algorithm: "round_robin", sticky_sessions: { enabled: false } },
        // the breaker must not open on the bad instance's 503s during this test
        resilience4j: { circuitbreaker: { instances: { taskService: { minimumNumberOfCalls: 1000 } } } },
      },
    });
  });
  afterAll(async () => {
    await Promise.all([bpm?.stop(), bad?.stop(), good?.stop()]);
  });

  test("a POST that meets the 503 is not repeated; every GET ends 200 though first attempts meet it", async () => {
    const h = await authHeaders(21);
    // POSTs first: the bad instance is ejected after 5 failures in a row (outlier detection)
    const posts: number[] = [];
    for (let i = 0; i < 4; i++) posts.push((await fetch(`${bpm.url()}/api/tasks`, { method: "POST", headers: { ...h, "content-type": "application/json" }, body: JSON.stringify({ title: `t${i}`, user_id: 21 }) })).status);
    expect(await injected()).toBe(2); // round robin: two reached the bad instance, once each
    expect(posts.filter((s) => s === 503).length).toBe(2); // and were answered 503, not sent again
    expect(posts.filter((s) => s === 201).length).toBe(2);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await fetch(`${bpm.url()}/api/tasks?user_id=21`, { headers: h })).status);
    expect(statuses).toEqual(Array(20).fill(200));
    expect(await injected()).toBeGreaterThan(2); // some GETs' first attempts met the 503 and were retried on the other
    const listed = (await (await fetch(`${good.url("task-service")}/api/tasks?user_id=21`, { headers: h })).json()) as { total: number };
    expect(listed.total).toBe(2); // exactly the two POSTs that were answered 201
  });
});
