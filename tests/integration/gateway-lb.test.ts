import { afterAll, describe, expect, test } from "bun:test";
import { authHeaders, startBpm, type BpmProcess } from "../support/bpm.ts";
import { waitFor } from "../support/process.ts";
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
  const loads: { kill(signal?: number | NodeJS.Signals): void }[] = [];
  afterAll(async () => {
    for (const l of loads) l.kill();
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
    // wrk runs until stopped (SIGINT makes it print its summary); each phase waits for the state it needs
    const wrk = Bun.spawn([toolPath("wrk"), "-t2", "-c32", "-d120s", "--latency", "-H", `authorization: ${auth}`, `${gateway.url()}/api/tasks?limit=1`], { stdout: "pipe", stderr: "pipe" });
    loads.push(wrk);
    const output = new Response(wrk.stdout).text();
    const survivors = [services[0]!, services[2]!];
    const servedBySurvivors = async () => (await Promise.all(survivors.map(servedCount))).reduce((a, b) => a + b, 0);

    // it was taking its share
    await waitFor(async () => ((await servedCount(victim)) > 50 ? true : undefined), { what: "the victim serving 50 requests", timeoutMs: 30_000 });
    await victim.kill();

    // the load goes on over the two others while the victim is gone
    const atKill = await servedBySurvivors();
    await waitFor(async () => ((await servedBySurvivors()) > atKill + 500 ? true : undefined), { what: "500 more requests served by the survivors", timeoutMs: 30_000 });
    const restarted = await startBpm({ roles: ["task-service"], dataDir: victim.dataDir, ports: victim.ports });
    procs.push(restarted);
    // health checks bring it back into rotation
    await waitFor(async () => ((await servedCount(restarted)) > 50 ? true : undefined), { what: "the restarted instance serving 50 requests", timeoutMs: 30_000 });
    const afterRestart = await servedCount(restarted);

    wrk.kill("SIGINT");
    const out = await output;
    await wrk.exited;
    const r = parseWrk(out);
    console.log(`wrk through the gateway with one of 3 instances killed and restarted: ${r.requests} requests, ${r.non2xx} non-2xx, ${r.socketErrors} socket errors; restarted instance served ${afterRestart}`);
    expect(r.requests).toBeGreaterThan(600); // at least what the phases above counted
    expect(r.socketErrors).toBe(0);
    expect(r.non2xx).toBe(0);
    expect(afterRestart).toBeGreaterThan(50);
  }, 60_000);
});
