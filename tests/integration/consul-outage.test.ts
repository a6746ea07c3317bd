// What bpm does when Consul goes away or answers badly. Real Consul agents throughout; the one
// exception is a small proxy in front of the real agent that corrupts its health answers on demand,
// because a real Consul cannot be made to send garbage JSON.
import { afterEach, describe, expect, test } from "bun:test";
import type { BpmProcess } from "../support/bpm.ts";
import { type ConsulAgent, startConsul } from "../support/servers.ts";
import { gatewayDiscovery, passingIds, servedCount, serviceId, startWithConsul, steadyTraffic, waitPassing, waitUntil } from "./consul-helpers.ts";

const procs: BpmProcess[] = [];
const agents: ConsulAgent[] = [];
const track = (p: BpmProcess) => (procs.push(p), p);
afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop().catch(() => p.kill());
  for (const a of agents.splice(0)) await a.stop().catch(() => {});
});
async function agent(): Promise<ConsulAgent> {
  const a = await startConsul();
  agents.push(a);
  return a;
}

describe("Consul outages", () => {
  test("agent killed: traffic goes on over the cached set with 0 failures and /health says degraded, not DOWN; agent back: registrations return and the watch resumes", async () => {
    const consul = await agent();
    const ts = track(await startWithConsul("task-service", consul.httpAddr));
    const gw = track(await startWithConsul("gateway", consul.httpAddr));
    const id = serviceId("task-service", ts);
    await waitPassing(consul.url, "task-service", id, 15_000);
    await waitUntil("gateway knows the instance", async () => (await gatewayDiscovery(gw)).instances["task-service"] === 1, 5_000);

    const outage = await steadyTraffic(gw);
    await consul.kill();
    // each service's watch notices on its own (its blocking call fails): wait for task-service's
    await waitUntil("gateway notices", async () => (await gatewayDiscovery(gw)).detail.includes("task-service: 1 from consul"), 10_000);
    const during = await gatewayDiscovery(gw);
    expect(during.status).toBe("UP");
    expect(during.detail).toStartWith(`degraded: consul ${consul.httpAddr} failing for`);
    expect(during.instances["task-service"]).toBe(1);
    await Bun.sleep(2_000);
    const down = await outage.stop();
    console.log(`[consul] traffic while the agent was down: ${JSON.stringify(down.statuses)}`);
    expect(down.failed).toBe(0);
    expect(down.ok).toBeGreaterThan(50);

    // A dev agent comes back empty (a real one restores its services from its data dir): until our
    // anti-entropy registers again, Consul truthfully says "no instances", and that is trusted.
    const back = await steadyTraffic(gw);
    await consul.restart();
    const t0 = Date.now();
    const passingAt = await waitPassing(consul.url, "task-service", id, 20_000);
    const resumedAt = await waitUntil("gateway watch resumes", async () => {
      const d = await gatewayDiscovery(gw);
      return d.status === "UP" && !d.detail.startsWith("degraded") && d.instances["task-service"] === 1;
    }, 10_000);
    console.log(`[consul] agent back (empty): registration passing again ${passingAt - t0} ms after the agent was ready, gateway discovery healthy after ${resumedAt - t0} ms`);
    // backoff cap 1 s in these tests; the re-registration starts passing, so no check interval is waited
    expect(passingAt - t0).toBeLessThan(3_000);

    // the resumed watch sees changes again: a second instance gets traffic
    const ts2 = track(await startWithConsul("task-service", consul.httpAddr));
    await waitPassing(consul.url, "task-service", serviceId("task-service", ts2), 15_000);
    await waitUntil("the new instance is routed to", async () => (await servedCount(ts2)) > 0, 5_000);
    const after = await back.stop();
    console.log(`[consul] traffic from the agent's return (empty catalog until we re-register): ${JSON.stringify(after.statuses)}`);
    expect(after.ok).toBeGreaterThan(50);
  }, 60_000);

  test("a gateway restarted while Consul is down finds its peers in the snapshot the previous run left", async () => {
    const consul = await agent();
    const ts = track(await startWithConsul("task-service", consul.httpAddr));
    await waitPassing(consul.url, "task-service", serviceId("task-service", ts), 15_000);
    const gw1 = await startWithConsul("gateway", consul.httpAddr);
    await waitUntil("gateway knows the instance", async () => (await gatewayDiscovery(gw1)).instances["task-service"] === 1, 5_000);
    expect(await gw1.stop()).toBe(0);

    await consul.kill();
    const gw2 = track(await startWithConsul("gateway", consul.httpAddr, { dataDir: gw1.dataDir, ports: gw1.ports }));
    const d = await gatewayDiscovery(gw2);
    expect(d.status).toBe("UP");
    expect(d.detail).toContain("task-service: 1 from snapshot");
    const traffic = await steadyTraffic(gw2);
    await Bun.sleep(1_000);
    const result = await traffic.stop();
    expect(result.failed).toBe(0);
    expect(result.ok).toBeGreaterThan(20);
    expect(gw2.output()).toContain("is not answering");
  }, 60_000);

  test("500s and garbage JSON from Consul neither crash the gateway nor empty its instance set (corrupting proxy in front of the real agent)", async () => {
    const consul = await agent();
    const proxy = corruptingProxy(consul.url);
    try {
      const ts = track(await startWithConsul("task-service", consul.httpAddr));
      await waitPassing(consul.url, "task-service", serviceId("task-service", ts), 15_000);
      const gw = track(await startWithConsul("gateway", `127.0.0.1:${proxy.server.port}`));
      await waitUntil("gateway knows the instance", async () => (await gatewayDiscovery(gw)).instances["task-service"] === 1, 5_000);
      const traffic = await steadyTraffic(gw);

      for (const mode of ["500", "garbage", "wrong-shape", "no-index"] as const) {
        const served = proxy.served(mode);
        proxy.setMode(mode);
        await waitUntil(`gateway gets a ${mode} answer`, () => proxy.served(mode) > served, 10_000);
        await waitUntil(`gateway reports ${mode} as degraded`, async () => (await gatewayDiscovery(gw)).detail.startsWith("degraded"), 5_000);
        const d = await gatewayDiscovery(gw);
        expect(d.status).toBe("UP");
        expect(d.instances["task-service"]).toBe(1);
        expect(gw.proc.exitCode).toBeNull();
        proxy.setMode("pass");
        await waitUntil("gateway recovers", async () => !(await gatewayDiscovery(gw)).detail.startsWith("degraded"), 10_000);
      }
      const result = await traffic.stop();
      console.log(`[consul] traffic while Consul answered badly: ${JSON.stringify(result.statuses)}; corrupted answers served: ${JSON.stringify(proxy.counts)}`);
      expect(result.failed).toBe(0);
      expect(await passingIds(consul.url, "task-service")).toEqual([serviceId("task-service", ts)]);
    } finally {
      proxy.server.stop(true);
    }
  }, 60_000);
});

type Mode = "pass" | "500" | "garbage" | "wrong-shape" | "no-index";

/**
 * Forwards everything to the real agent; in a corrupt mode, health answers (including blocking
 * queries already waiting) are replaced by a bad one. Test-only: it exists because no real Consul
 * sends garbage on request.
 */
function corruptingProxy(target: string) {
  let mode: Mode = "pass";
  let changed = Promise.withResolvers<void>();
  const counts: Record<string, number> = {};
  const bad = (m: Exclude<Mode, "pass">): Response => {
    counts[m] = (counts[m] ?? 0) + 1;
    switch (m) {
      case "500":
        return new Response("rpc error making call: No cluster leader", { status: 500, headers: { "content-type": "text/plain" } });
      case "garbage":
        return new Response('[{"Node": {"Node": "n1", "Addr', { headers: { "content-type": "application/json", "x-consul-index": "999999" } });
      case "wrong-shape":
        return new Response('{"Service": "nope"}', { headers: { "content-type": "application/json", "x-consul-index": "999999" } });
      case "no-index":
        return new Response("[]", { headers: { "content-type": "application/json" } });
    }
  };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const isHealth = url.pathname.startsWith("/v1/health/service/");
      if (isHealth && mode !== "pass") return bad(mode);
      const upstream = fetch(`${target}${url.pathname}${url.search}`, { method: req.method, headers: req.headers, body: req.body, duplex: "half" } as RequestInit);
      if (!isHealth) return upstream;
      const switched = changed.promise.then(() => "switched" as const);
      const first = await Promise.race([upstream, switched]);
      if (first === "switched" && mode !== "pass") {
        upstream.then((r) => r.body?.cancel()).catch(() => {});
        return bad(mode);
      }
      return upstream;
    },
  });
  return {
    server,
    counts,
    served: (m: Mode) => counts[m] ?? 0,
    setMode(next: Mode) {
      mode = next;
      changed.resolve();
      changed = Promise.withResolvers<void>();
    },
  };
}
