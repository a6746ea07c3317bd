// Idle cost of Consul discovery: blocking queries mean a handful of requests a minute and no
// measurable CPU. A counting proxy in front of the real agent tells how many calls bpm made.
import { afterAll, expect, test } from "bun:test";
import type { BpmProcess } from "../support/bpm.ts";
import { startBpm } from "../support/bpm.ts";
import { type ConsulAgent, startConsul } from "../support/servers.ts";
import { cpuSeconds, gatewayDiscovery, serviceId, startWithConsul, waitPassing, waitUntil } from "./consul-helpers.ts";

const SEED_CHECKS = { interval: "10s", timeout: "5s", deregister_critical_service_after: "30s" };
let consul: ConsulAgent | undefined;
const procs: BpmProcess[] = [];
afterAll(async () => {
  for (const p of procs) await p.stop().catch(() => p.kill());
  await consul?.stop();
});

test("an idle gateway watching 3 services makes a few blocking queries a minute and uses no more CPU than a static one", async () => {
  consul = await startConsul();
  const counts = new Map<string, number>();
  const target = consul.url;
  const proxy = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    fetch(req) {
      const url = new URL(req.url);
      const key = `${req.method} ${url.pathname.replace(/^\/v1\/agent\/service\/(?!register|deregister).+/, "/v1/agent/service/<id>")}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      return fetch(`${target}${url.pathname}${url.search}`, { method: req.method, headers: req.headers, body: req.body, duplex: "half" } as RequestInit);
    },
  });
  try {
    for (const role of ["task-service", "form-service", "process-service"] as const) {
      const p = await startWithConsul(role, consul.httpAddr, { checks: SEED_CHECKS });
      procs.push(p);
      await waitPassing(consul.url, role, serviceId(role, p), 25_000);
    }
    const gw = await startWithConsul("gateway", `127.0.0.1:${proxy.port}`, { checks: SEED_CHECKS });
    procs.push(gw);
    const baseline = await startBpm({ roles: ["gateway"] });
    procs.push(baseline);
    await waitUntil("gateway sees all three services", async () => Object.values((await gatewayDiscovery(gw)).instances).every((n) => n === 1), 5_000);
    await Bun.sleep(2_000); // start-up work done

    counts.clear();
    const [c0, b0] = [await cpuSeconds(gw.proc.pid), await cpuSeconds(baseline.proc.pid)];
    await Bun.sleep(60_000);
    const [c1, b1] = [await cpuSeconds(gw.proc.pid), await cpuSeconds(baseline.proc.pid)];
    const consulCpu = c1 - c0;
    const staticCpu = b1 - b0;
    const calls = Object.fromEntries(counts);
    console.log(`[consul] idle 60 s: consul gateway CPU ${consulCpu.toFixed(2)} s, static gateway CPU ${staticCpu.toFixed(2)} s; calls to Consul: ${JSON.stringify(calls)}`);

    // 3 services × (60 s / 30 s wait, + Consul's jitter of up to wait/16) — polling every 100 ms would be 1,800
    const healthQueries = counts.get("GET /v1/health/service/task-service") ?? 0;
    expect(healthQueries).toBeGreaterThanOrEqual(1);
    expect(healthQueries).toBeLessThanOrEqual(3);
    let allHealth = 0;
    for (const [k, n] of counts) if (k.startsWith("GET /v1/health/service/")) allHealth += n;
    expect(allHealth).toBeLessThanOrEqual(9);
    // anti-entropy of the gateway's own registration: one look every 15 s
    expect(counts.get("GET /v1/agent/service/<id>") ?? 0).toBeLessThanOrEqual(5);
    // within half a CPU-second of a gateway that does not talk to Consul at all
    expect(consulCpu).toBeLessThan(staticCpu + 0.5);
  } finally {
    proxy.stop(true);
  }
}, 150_000);
