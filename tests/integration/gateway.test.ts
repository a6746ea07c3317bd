import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { adminFetch, authHeaders, json, postJson, startBpm, TEST_SECRET, token, type BpmProcess } from "../support/bpm.ts";

const enc = new TextEncoder();

/** An upstream that records what reached it: proves what the gateway forwards and strips. */
function echoUpstream() {
  const seen: { path: string; headers: Record<string, string> }[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const url = new URL(req.url);
      if (url.pathname === "/health") return Response.json({ status: "UP", details: {}, timestamp: Date.now() });
      seen.push({ path: url.pathname + url.search, headers: Object.fromEntries(req.headers) });
      return Response.json({ ok: true, path: url.pathname });
    },
  });
  return { server, seen, instance: { address: "127.0.0.1", port: server.port } };
}

describe("gateway authentication", () => {
  let bpm: BpmProcess;
  let echo: ReturnType<typeof echoUpstream>;
  beforeAll(async () => {
    echo = echoUpstream();
    bpm = await startBpm({ roles: ["gateway"], config: { discovery: { static: { "task-service": [echo.instance] } } } });
  });
  afterAll(async () => {
    await bpm?.stop();
    echo?.server.stop(true);
  });

  const sign = (alg: string, claims: Record<string, unknown>, key: Uint8Array = enc.encode(TEST_SECRET)) => {
    const t = new SignJWT(claims).setProtectedHeader({ alg }).setIssuer("bpm").setAudience("bpm-api");
    return t.sign(key);
  };
  const now = () => Math.floor(Date.now() / 1000);

  test("a valid token is forwarded as it came (the role verifies it again), forged identity headers are dropped", async () => {
    const before = echo.seen.length;
    const h = await authHeaders(5);
    const r = await fetch(`${bpm.url()}/api/tasks/1`, { headers: { ...h, "x-bpm-user-id": "999", "x-bpm-user-admin": "true" } });
    expect(r.status).toBe(200);
    const got = echo.seen[before]!;
    expect(got.headers.authorization).toBe(h.authorization!);
    expect(got.headers["x-bpm-user-id"]).toBeUndefined();
    expect(got.headers["x-bpm-user-admin"]).toBeUndefined();
    expect(got.headers["x-correlation-id"]).toBe(r.headers.get("x-correlation-id")!);
    expect(Number(got.headers["x-request-deadline"])).toBeGreaterThan(Date.now());
  });

  test.each([
    ["missing", async () => undefined],
    ["not a bearer", async () => "Basic Zm9vOmJhcg=="],
    ["expired", async () => `Bearer ${await sign("HS256", { sub: "1", exp: now() - 60, iat: now() - 120 })}`],
    ["not yet valid", async () => `Bearer ${await sign("HS256", { sub: "1", exp: now() + 600, nbf: now() + 300 })}`],
    ["alg none", async () => {
      const h = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
      const p = Buffer.from(JSON.stringify({ sub: "1", exp: now() + 600, iss: "bpm", aud: "bpm-api" })).toString("base64url");
      return `Bearer ${h}.${p}.`;
    }],
    ["wrong algorithm (HS512)", async () => `Bearer ${await sign("HS512", { sub: "1", exp: now() + 600 })}`],
    ["wrong secret", async () => `Bearer ${await sign("HS256", { sub: "1", exp: now() + 600 }, enc.encode("another-secret-another-secret-another"))}`],
    ["tampered payload", async () => {
      const [h, , s] = (await token(1)).split(".");
      const p = Buffer.from(JSON.stringify({ sub: "2", exp: now() + 600, iss: "bpm", aud: "bpm-api" })).toString("base64url");
      return `Bearer ${h}.${p}.${s}`;
    }],
    ["no subject", async () => `Bearer ${await sign("HS256", { exp: now() + 600 })}`],
  ])("%s token → 401 and never forwarded", async (_name, make) => {
    const before = echo.seen.length;
    const auth = await make();
    const r = await json(fetch(`${bpm.url()}/api/tasks`, { headers: auth ? { authorization: auth } : {} }));
    expect(r.status).toBe(401);
    expect(r.body.code).toBe("UNAUTHORIZED");
    expect(echo.seen.length).toBe(before);
  });

  test("/health stays open; admin endpoints need the admin claim", async () => {
    expect((await fetch(`${bpm.url()}/health`)).status).toBe(200);
    expect((await fetch(`${bpm.url()}/admin/breakers`)).status).toBe(401);
    expect((await fetch(`${bpm.url()}/admin/breakers`, { headers: await authHeaders(1, false) })).status).toBe(403);
    expect((await fetch(`${bpm.url()}/admin/breakers`, { headers: await authHeaders(1, true) })).status).toBe(200);
  });

  test("bpm token mints a token this gateway accepts", async () => {
    const proc = Bun.spawn([process.env.BPM_BIN ?? "./bpm", "token", "--sub=77", "--ttl=5m", "--config", bpm.configPath], { stdout: "pipe", stderr: "pipe" });
    const tok = (await new Response(proc.stdout).text()).trim();
    expect(await proc.exited).toBe(0);
    const r = await fetch(`${bpm.url()}/api/tasks/3`, { headers: { authorization: `Bearer ${tok}` } });
    expect(r.status).toBe(200);
    const claims = JSON.parse(Buffer.from(echo.seen.at(-1)!.headers.authorization!.split(".")[1]!, "base64url").toString());
    expect(claims).toMatchObject({ sub: "77", iss: "bpm", aud: "bpm-api" });
    expect(claims.admin).toBeUndefined();
    expect(claims.roles).toBeUndefined();
  });
});

describe("bpm token --roles", () => {
  test("puts the roles and the admin claim in the token; a bad role name is a usage error", async () => {
    const dir = (await import("../support/bpm.ts")).tempDir();
    const mint = async (...args: string[]) => {
      const proc = Bun.spawn([process.env.BPM_BIN ?? "./bpm", "token", "--sub=9", "--data-dir", dir, ...args], { stdout: "pipe", stderr: "pipe" });
      return { out: (await new Response(proc.stdout).text()).trim(), err: await new Response(proc.stderr).text(), code: await proc.exited };
    };
    const ok = await mint("--roles=designer,reviewer", "--admin");
    expect(ok.code).toBe(0);
    expect(JSON.parse(Buffer.from(ok.out.split(".")[1]!, "base64url").toString())).toMatchObject({ sub: "9", admin: true, roles: ["designer", "reviewer"] });
    const bad = await mint("--roles=Designer!");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--roles");
  });
});

describe("gateway rate limit", () => {
  let bpm: BpmProcess;
  let echo: ReturnType<typeof echoUpstream>;
  beforeAll(async () => {
    echo = echoUpstream();
    bpm = await startBpm({ roles: ["gateway"], config: { gateway: { rate_limit: { requests: 5, window: "60s" } }, discovery: { static: { "task-service": [echo.instance] } } } });
  });
  afterAll(async () => {
    await bpm?.stop();
    echo?.server.stop(true);
  });

  test("exact at the boundary, 429 with Retry-After and RateLimit headers, separate per subject", async () => {
    const a = await authHeaders(101);
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 6; i++) {
      last = await fetch(`${bpm.url()}/api/tasks/1`, { headers: a });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(Number(last!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(last!.headers.get("ratelimit-limit")).toBe("5");
    expect(last!.headers.get("ratelimit-remaining")).toBe("0");
    const body = (await last!.json()) as { error: string; retryAfter: number };
    expect(body.error).toBe("Too many requests");
    expect(body.retryAfter).toBeGreaterThanOrEqual(1);
    const other = await fetch(`${bpm.url()}/api/tasks/1`, { headers: await authHeaders(102) });
    expect(other.status).toBe(200);
  });
});

describe("gateway → task-service, end to end", () => {
  let bpm: BpmProcess;
  beforeAll(async () => {
    bpm = await startBpm({
      roles: ["gateway", "task-service"],
      env: { BPM_FAULT_INJECTION: "1" },
      config: {
        resilience4j: {
          circuitbreaker: { instances: { taskService: { slidingWindowSize: 4, minimumNumberOfCalls: 4, failureRateThreshold: 50, waitDurationInOpenState: "1s", permittedNumberOfCallsInHalfOpenState: 2 } } },
          retry: { instances: { taskService: { maxAttempts: 1 } } },
        },
      },
    });
  });
  afterAll(() => bpm?.stop());

  test("CRUD through the gateway, correlation id kept", async () => {
    const h = await authHeaders(9);
    const c = await json(postJson(`${bpm.url()}/api/tasks`, { title: "via gateway", user_id: 9 }, { ...h, "x-correlation-id": "corr-1" }));
    expect(c.status).toBe(201);
    expect(c.headers.get("x-correlation-id")).toBe("corr-1");
    const g = await json(fetch(`${bpm.url()}/api/tasks/${c.body.id}`, { headers: h }));
    expect(g.body.title).toBe("via gateway");
    const bad = await json(postJson(`${bpm.url()}/api/tasks`, { user_id: 9 }, h));
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].field).toBe("title");
  });

  test("server-sent events stream through the gateway unbuffered", async () => {
    const h = await authHeaders(10);
    const ac = new AbortController();
    const res = await fetch(`${bpm.url()}/api/tasks/stream?user_id=10`, { headers: h, signal: ac.signal });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    await postJson(`${bpm.url()}/api/tasks`, { title: "streamed", user_id: 10 }, h);
    let text = "";
    const until = Date.now() + 5000;
    while (!text.includes("event: created") && Date.now() < until) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    ac.abort();
    expect(text).toContain("event: created");
    expect(text).toContain('"title":"streamed"');
  });

  test("breaker opens on failures, answers 503 + Retry-After without touching the instance, recovers through HALF_OPEN", async () => {
    const h = await authHeaders(11);
    const admin = await authHeaders(1, true);
    const svc = bpm.url("task-service");
    await adminFetch(`${svc}/admin/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ status: 503 }) });
    const failures: number[] = [];
    for (let i = 0; i < 4; i++) failures.push((await fetch(`${bpm.url()}/api/tasks/1`, { headers: h })).status);
    expect(failures).toEqual([503, 503, 503, 503]);
    const injectedBefore = ((await (await adminFetch(`${svc}/admin/faults`)).json()) as { injected: number }).injected;

    const rejected = await json(fetch(`${bpm.url()}/api/tasks/1`, { headers: h }));
    expect(rejected.status).toBe(503);
    expect(rejected.body.code).toBe("CIRCUIT_OPEN");
    expect(Number(rejected.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const injectedAfter = ((await (await adminFetch(`${svc}/admin/faults`)).json()) as { injected: number }).injected;
    expect(injectedAfter).toBe(injectedBefore); // the instance was not touched

    await adminFetch(`${svc}/admin/faults`, { method: "DELETE" });
    await Bun.sleep(1_100);
    const created = await json(postJson(`${svc}/api/tasks`, { title: "after heal", user_id: 11 }, admin));
    const trial1 = await fetch(`${bpm.url()}/api/tasks/${created.body.id}`, { headers: h });
    const trial2 = await fetch(`${bpm.url()}/api/tasks/${created.body.id}`, { headers: h });
    expect([trial1.status, trial2.status]).toEqual([200, 200]);
    const breakers = await json(fetch(`${bpm.url()}/admin/breakers`, { headers: admin }));
    expect(breakers.body.taskService.state).toBe("CLOSED");
    expect(breakers.body.taskService.transitions).toMatchObject({ "CLOSED->OPEN": 1, "OPEN->HALF_OPEN": 1, "HALF_OPEN->CLOSED": 1 });
  });

  test("an operator can force a breaker open and close it again", async () => {
    const admin = await authHeaders(1, true);
    const h = await authHeaders(12);
    const set = (state: string) => fetch(`${bpm.url()}/admin/breakers/taskService`, { method: "POST", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ state }) });
    expect((await set("FORCED_OPEN")).status).toBe(200);
    expect((await json(fetch(`${bpm.url()}/api/tasks?limit=1`, { headers: h }))).body.code).toBe("CIRCUIT_OPEN");
    expect((await set("CLOSED")).status).toBe(200);
    expect((await fetch(`${bpm.url()}/api/tasks?limit=1`, { headers: h })).status).toBe(200);
    expect((await set("SIDEWAYS")).status).toBe(400);
  });

  test("a slow upstream → 504 within the request timeout", async () => {
    const svc = bpm.url("task-service");
    await adminFetch(`${svc}/admin/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ status: 0, delay_ms: 3000 }) });
    try {
      const t0 = Date.now();
      const r = await json(fetch(`${bpm.url()}/api/tasks?limit=1`, { headers: { ...(await authHeaders(13)), "x-request-deadline": String(Date.now() + 400) } }));
      expect(r.status).toBe(504);
      expect(r.body.code).toBe("UPSTREAM_TIMEOUT");
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      await adminFetch(`${svc}/admin/faults`, { method: "DELETE" });
      await fetch(`${bpm.url()}/admin/breakers/taskService`, { method: "POST", headers: { ...(await authHeaders(1, true)), "content-type": "application/json" }, body: '{"state":"RESET"}' });
    }
  });

  test("a failing upstream is answered from the last good response, marked X-Fallback: cache (seed §3)", async () => {
    const h = await authHeaders(14);
    const svc = bpm.url("task-service");
    const created = await json(postJson(`${bpm.url()}/api/tasks`, { title: "cached", user_id: 14 }, h));
    const live = await json(fetch(`${bpm.url()}/api/tasks/${created.body.id}`, { headers: h }));
    expect(live.headers.get("x-fallback")).toBeNull();
    await adminFetch(`${svc}/admin/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ status: 503 }) });
    try {
      const fallback = await json(fetch(`${bpm.url()}/api/tasks/${created.body.id}`, { headers: h }));
      expect(fallback.status).toBe(200);
      expect(fallback.headers.get("x-fallback")).toBe("cache");
      expect(fallback.body).toEqual(live.body);
      // another user's request for the same URL is not served from this user's cache
      const other = await fetch(`${bpm.url()}/api/tasks/${created.body.id}`, { headers: await authHeaders(15) });
      expect(other.status).toBe(503);
    } finally {
      await adminFetch(`${svc}/admin/faults`, { method: "DELETE" });
      await fetch(`${bpm.url()}/admin/breakers/taskService`, { method: "POST", headers: { ...(await authHeaders(1, true)), "content-type": "application/json" }, body: '{"state":"RESET"}' });
    }
  });
});
