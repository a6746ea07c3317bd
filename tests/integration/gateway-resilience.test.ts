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
