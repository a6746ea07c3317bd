import { afterAll, describe, expect, test } from "bun:test";
import { authHeaders, startBpm, type BpmProcess } from "../support/bpm.ts";
import { toolPath } from "../support/tools.ts";

/** Requests an instance served on a route, read from its own /metrics. */
async function servedCount(bpm: BpmProcess): Promise<number> {
  const text = await (await fetch(`${bpm.url("task-service")}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^bpm_http_requests_total\{[^}]*route="\/api\/tasks"[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

function parseWrk(out: string) {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { requests, non2xx, socketErrors };
}

describe("client-side load balancing under load", () => {
  const procs: BpmProcess[] = [];
  afterAll(async () => {
    for (const p of procs) await p.stop().catch(() => p.kill());
  });

  test("3 task-service instances behind the gateway: kill -9 one under wrk load → no failed GETs; restart it → it gets traffic again", async () => {
    const services = await Promise.all([0, 1, 2].map(() => startBpm({ roles: ["task-service"] })));
    procs.push(...services);
    const gateway = await startBpm({
      roles: ["gateway"],
      config: {
        discovery: { static: { "task-service": services.map((s) => ({ address: "127.0.0.1", port: s.ports["task-service"].http, grpc_port: s.ports["task-service"].grpc })) } },
        load_balancer: {
          algorithm: "least_connections",
          sticky_sessions: { enabled: false },
          health_check: { interval: "300ms", timeout: "200ms", healthy_threshold: 2, unhealthy_threshold: 2 },
          outlier_detection: { consecutive_errors: 3, base_ejection_time: "1s", max_ejection_time: "2s" },
        },
      },
    });
    procs.push(gateway);
    const victim = services[1]!;
    const auth = (await authHeaders(1)).authorization;
    const wrk = Bun.spawn([toolPath("wrk"), "-t2", "-c32", "-d8s", "--latency", "-H", `authorization: ${auth}`, `${gateway.url()}/api/tasks?limit=1`], { stdout: "pipe", stderr: "pipe" });

    await Bun.sleep(2_000);
    const before = await servedCount(victim);
    expect(before).toBeGreaterThan(50); // it was taking its share
    await victim.kill();

    await Bun.sleep(2_000);
    const restarted = await startBpm({ roles: ["task-service"], dataDir: victim.dataDir, ports: victim.ports });
    procs.push(restarted);
    await Bun.sleep(2_500);
    const afterRestart = await servedCount(restarted);

    const out = await new Response(wrk.stdout).text();
    await wrk.exited;
    const r = parseWrk(out);
    console.log(`wrk through the gateway with one of 3 instances killed and restarted: ${r.requests} requests, ${r.non2xx} non-2xx, ${r.socketErrors} socket errors; restarted instance served ${afterRestart}`);
    expect(r.requests).toBeGreaterThan(1000);
    expect(r.socketErrors).toBe(0);
    expect(r.non2xx).toBe(0);
    expect(afterRestart).toBeGreaterThan(50);
  }, 60_000);
});
