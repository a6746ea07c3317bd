import { afterAll, describe, expect, test } from "bun:test";
import { authHeaders, type BpmProcess, startBpm } from "../support/bpm.ts";

/** An upstream whose answers the test scripts: `plan` decides each /api request's fate. */
function scriptedUpstream(plan: (n: number, req: Request) => Response | Promise<Response>) {
  let n = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      if (new URL(req.url).pathname === "/health") return Response.json({ status: "UP", details: {}, timestamp: Date.now() });
      return plan(++n, req);
    },
  });
  return { server, count: () => n, instance: { address: "127.0.0.1", port: server.port } };
}

const running: { stop(): unknown }[] = [];
afterAll(async () => {
  for (const r of running.reverse()) await r.stop();
});

async function gateway(config: Record<string, unknown>): Promise<BpmProcess> {
  const bpm = await startBpm({ roles: ["gateway"], config });
  running.push(bpm);
  return bpm;
}

describe("retry with one instance", () => {
  test("a failed GET is retried on the same instance after backoff when there is no other", async () => {
    const up = scriptedUpstream((n) => (n === 1 ? new Response("down", { status: 503 }) : Response.json({ ok: true })));
    running.push({ stop: () => up.server.stop(true) });
    const bpm = await gateway({
      discovery: { static: { "task-service": [up.instance] } },
      resilience4j: { retry: { configs: { default: { maxAttempts: 3, backoffPeriod: 10 } } } },
    });
    const res = await fetch(`${bpm.url()}/api/tasks/1`, { headers: await authHeaders(1) });
    expect(res.status).toBe(200);
    expect(up.count()).toBe(2);
  });
});

describe("every configured policy runs on the gateway's calls", () => {
  test("bulkhead: maxConcurrentCalls 2 → the 3rd concurrent call is 503 BULKHEAD_FULL, and a freed slot serves again", async () => {
    const held: (() => void)[] = [];
    const up = scriptedUpstream(() => new Promise<Response>((resolve) => held.push(() => resolve(Response.json({ ok: true })))));
    running.push({ stop: () => up.server.stop(true) });
    const bpm = await gateway({
      discovery: { static: { "task-service": [up.instance] } },
      resilience4j: { bulkhead: { instances: { taskService: { maxConcurrentCalls: 2 } } } },
    });
    const h = await authHeaders(2);
    const first = [fetch(`${bpm.url()}/api/tasks/a`, { headers: h }), fetch(`${bpm.url()}/api/tasks/b`, { headers: h })];
    while (held.length < 2) await Bun.sleep(5);
    const third = await fetch(`${bpm.url()}/api/tasks/c`, { headers: h });
    expect(third.status).toBe(503);
    expect(((await third.json()) as { code: string }).code).toBe("BULKHEAD_FULL");
    expect(up.count()).toBe(2);
    for (const release of held.splice(0)) release();
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200]);
    const fourth = fetch(`${bpm.url()}/api/tasks/d`, { headers: h });
    while (held.length < 1) await Bun.sleep(5);
    held.shift()!();
    expect((await fourth).status).toBe(200);
  });

  test("client-side rate limiter: limitForPeriod 2 per 60 s on taskService → the 3rd call is refused (429) without reaching it", async () => {
    const up = scriptedUpstream(() => Response.json({ ok: true }));
    running.push({ stop: () => up.server.stop(true) });
    const bpm = await gateway({
      discovery: { static: { "task-service": [up.instance], "form-service": [up.instance] } },
      resilience4j: { ratelimiter: { instances: { taskService: { limitForPeriod: 2, limitRefreshPeriod: "60s" } } } },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${bpm.url()}/api/tasks/${i}`, { headers: await authHeaders(10 + i) })).status);
    expect(statuses).toEqual([200, 200, 429]);
    expect(up.count()).toBe(2);
    // another downstream has no such limit
    expect((await fetch(`${bpm.url()}/api/forms/1`, { headers: await authHeaders(20) })).status).toBe(200);
  });

  test("fallback.defaultResponse answers a failed GET (X-Fallback: default); other methods keep the error", async () => {
    const up = scriptedUpstream(() => new Response("down", { status: 503 }));
    running.push({ stop: () => up.server.stop(true) });
    const bpm = await gateway({
      discovery: { static: { "task-service": [up.instance] } },
      resilience4j: { retry: { configs: { default: { maxAttempts: 1 } } } },
      fallback: { defaultResponse: { items: [], degraded: true } },
    });
    const h = await authHeaders(3);
    const res = await fetch(`${bpm.url()}/api/tasks/1`, { headers: h });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-fallback")).toBe("default");
    expect(await res.json()).toEqual({ items: [], degraded: true });
    const post = await fetch(`${bpm.url()}/api/tasks`, { method: "POST", headers: { ...h, "content-type": "application/json" }, body: "{}" });
    expect(post.status).toBe(503);
  });

  test("consecutive breaker (seed 004): open at the 5th failure in a row, closed again after 2 half-open successes", async () => {
    let failing = true;
    const up = scriptedUpstream(() => (failing ? new Response("down", { status: 500 }) : Response.json({ ok: true })));
    running.push({ stop: () => up.server.stop(true) });
    const bpm = await gateway({
      discovery: { static: { "task-service": [up.instance] } },
      load_balancer: { outlier_detection: { enabled: false }, health_check: { enabled: false } },
      resilience4j: {
        retry: { configs: { default: { maxAttempts: 1 } } },
        circuitbreaker: { instances: { taskService: { type: "consecutive", failureThreshold: 5, successThreshold: 2, timeout: "5s", resetTimeout: "300ms" } } },
      },
    });
    const h = await authHeaders(4);
    const get = async () => {
      const r = await fetch(`${bpm.url()}/api/tasks/1`, { headers: h });
      return r.status === 503 ? ((await r.json()) as { code: string }).code : r.status;
    };
    for (let i = 0; i < 5; i++) expect(await get()).toBe(500);
    expect(await get()).toBe("CIRCUIT_OPEN");
    expect(up.count()).toBe(5);
    failing = false;
    // HALF_OPEN after resetTimeout: two successful trials close it
    const state = async () => ((await (await fetch(`${bpm.url()}/admin/breakers`, { headers: await authHeaders(1, true) })).json()) as Record<string, { state: string }>)["taskService"]!.state;
    let trial: unknown;
    while ((trial = await get()) === "CIRCUIT_OPEN") await Bun.sleep(20);
    expect(trial).toBe(200);
    expect(await state()).toBe("HALF_OPEN");
    expect(await get()).toBe(200);
    expect(await state()).toBe("CLOSED");
  });
});
