// The seed's real timings (checks every 10 s, timeout 5 s, DeregisterCriticalServiceAfter 30 s)
// against a real agent. Slow on purpose: Consul's reaper runs every 30 s and never deregisters
// sooner than 1 min after a service went critical (check_deregister_interval_min, not settable).
import { afterAll, expect, test } from "bun:test";
import type { BpmProcess } from "../support/bpm.ts";
import { type ConsulAgent, startConsul } from "../support/servers.ts";
import { gatewayDiscovery, serviceId, startWithConsul, waitPassing, waitUntil } from "./consul-helpers.ts";

const SEED_CHECKS = { interval: "10s", timeout: "5s", deregister_critical_service_after: "30s" };
let consul: ConsulAgent | undefined;
const procs: BpmProcess[] = [];
afterAll(async () => {
  for (const p of procs) await p.stop().catch(() => p.kill());
  await consul?.stop();
});

test("seed timings: checks pass; kill -9 → out of discovery within one check interval; Consul deregisters it after its 1 min minimum", async () => {
  consul = await startConsul();
  const gw = await startWithConsul("gateway", consul.httpAddr, { checks: SEED_CHECKS });
  procs.push(gw);
  const ts = await startWithConsul("task-service", consul.httpAddr, { checks: SEED_CHECKS });
  const id = serviceId("task-service", ts);
  const t0 = Date.now();
  await waitPassing(consul.url, "task-service", id, 25_000);
  console.log(`[consul] seed checks: passing ${Date.now() - t0} ms after start (first runs are staggered within the 10 s interval)`);
  await waitUntil("gateway knows the instance", async () => (await gatewayDiscovery(gw)).instances["task-service"] === 1, 5_000);

  const killedAt = Date.now();
  await ts.kill();
  const outAt = await waitUntil("out of the gateway's discovery", async () => (await gatewayDiscovery(gw)).instances["task-service"] === 0, 20_000, 50);
  // the next check (≤ 10 s away) fails at once: connection refused, no need to wait the 5 s timeout
  expect(outAt - killedAt).toBeLessThan(11_000);

  const catalogHas = async () => ((await (await fetch(`${consul!.url}/v1/catalog/service/task-service`)).json()) as { ServiceID: string }[]).some((e) => e.ServiceID === id);
  expect(await catalogHas()).toBe(true);
  const goneAt = await waitUntil("the reaper deregisters it", async () => !(await catalogHas()), 120_000, 250);
  console.log(`[consul] seed timings, kill -9: out of discovery after ${outAt - killedAt} ms; deregistered by Consul after ${Math.round((goneAt - outAt) / 1000)} s critical (DeregisterCriticalServiceAfter 30s is raised to Consul's 1 min minimum; its reaper runs every 30 s)`);
  expect(goneAt - outAt).toBeGreaterThanOrEqual(55_000);
  expect(goneAt - outAt).toBeLessThan(100_000);
}, 170_000);
