import { describe, expect, test } from "bun:test";
import { ServiceBalancers } from "../../../src/balancing/service-balancers.ts";
import { parseLoadBalancerConfig } from "../../../src/balancing/config.ts";
import type { InstancesListener, Registry, ServiceInstance } from "../../../src/discovery/types.ts";
import { FakeClock } from "../../../src/platform/clock.ts";
import { flush, instances, leased, seededRandom } from "./helpers.ts";

/** An in-memory registry, as static discovery behaves: set the instances, watchers hear it. */
class MemoryRegistry implements Registry {
  private readonly sets = new Map<string, readonly ServiceInstance[]>();
  private readonly watchers = new Map<string, Set<InstancesListener>>();
  set(service: string, list: readonly ServiceInstance[]): void {
    this.sets.set(service, list);
    for (const w of this.watchers.get(service) ?? []) w(list);
  }
  instances(service: string) {
    return this.sets.get(service) ?? [];
  }
  watch(service: string, listener: InstancesListener) {
    const set = this.watchers.get(service) ?? new Set();
    this.watchers.set(service, set);
    set.add(listener);
    listener(this.instances(service));
    return () => set.delete(listener);
  }
  health() {
    return { status: "UP" as const };
  }
  async close() {}
  watcherCount(service: string) {
    return this.watchers.get(service)?.size ?? 0;
  }
}

describe("ServiceBalancers", () => {
  test("one balancer per service, following discovery", () => {
    const registry = new MemoryRegistry();
    registry.set("task-service", instances("a", "b"));
    const balancers = new ServiceBalancers({ registry, clock: new FakeClock(), random: seededRandom() });
    const lb = balancers.get("task-service");
    expect(balancers.get("task-service")).toBe(lb);
    expect(lb.size).toBe(2);
    registry.set("task-service", instances("a", "b", "c"));
    expect(lb.size).toBe(3);
    expect(balancers.get("form-service").pick()).toMatchObject({ ok: false, reason: "no_instances" });
    expect(Object.keys(balancers.snapshot())).toEqual(["task-service", "form-service"]);
    balancers.close();
    expect(registry.watcherCount("task-service")).toBe(0);
  });

  test("per-service config picks the algorithm", () => {
    const registry = new MemoryRegistry();
    const config = parseLoadBalancerConfig({ algorithm: "random", services: { "task-service": { algorithm: "p2c_ewma" } } });
    const balancers = new ServiceBalancers({ registry, config });
    expect(balancers.get("task-service").algorithm).toBe("p2c_ewma");
    expect(balancers.get("form-service").algorithm).toBe("random");
    balancers.close();
  });

  test("active health checks take a failing instance out of rotation and bring it back", async () => {
    const registry = new MemoryRegistry();
    registry.set("task-service", instances("a", "b"));
    const clock = new FakeClock();
    const up = new Map([["a", true], ["b", true]]);
    const config = parseLoadBalancerConfig({ health_check: { interval: "10s", timeout: "1s", healthy_threshold: 2, unhealthy_threshold: 3 } });
    const balancers = new ServiceBalancers({ registry, config, clock, activeHealthChecks: true, probe: async (i) => up.get(i.id)! });
    const healthChanges: string[] = [];
    balancers.events.healthChanged.on((e) => healthChanges.push(`${e.instanceId}:${e.healthy}`));
    const lb = balancers.get("task-service");
    const round = async (ms: number) => {
      clock.advance(ms);
      await flush();
    };

    await round(0);
    up.set("a", false);
    for (let k = 0; k < 3; k++) await round(10_000);
    expect(healthChanges).toEqual(["a:false"]);
    for (let k = 0; k < 10; k++) expect(leased(lb.pick()).instance.id).toBe("b");
    expect(balancers.snapshot()["task-service"]!.instances.map((i) => i.healthy)).toEqual([false, true]);

    up.set("a", true);
    await round(10_000);
    await round(10_000);
    expect(healthChanges).toEqual(["a:false", "a:true"]);
    balancers.close();
    expect(clock.pendingTimers()).toBe(0);
  });

  test("without active checks nothing is probed", () => {
    const registry = new MemoryRegistry();
    registry.set("task-service", instances("a"));
    const clock = new FakeClock();
    let probes = 0;
    const balancers = new ServiceBalancers({ registry, clock, probe: async () => (probes++, true) });
    balancers.get("task-service");
    clock.advance(60_000);
    expect(probes).toBe(0);
    balancers.close();
  });
});
