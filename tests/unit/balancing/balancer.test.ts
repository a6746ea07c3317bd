import { describe, expect, test } from "bun:test";
import { LoadBalancer } from "../../../src/balancing/balancer.ts";
import type { Lease } from "../../../src/balancing/lease.ts";
import type { BalancerOptions } from "../../../src/balancing/config.ts";
import { FakeClock } from "../../../src/platform/clock.ts";
import { countBy, instance, instances, leased, options, outlier, seededRandom } from "./helpers.ts";

function setup(patch: Partial<BalancerOptions> = {}, ids = ["a", "b", "c"]) {
  const clock = new FakeClock();
  const lb = new LoadBalancer("task-service", options(patch), { clock, random: seededRandom() });
  lb.setInstances(instances(...ids));
  const events: { name: string; instanceId: string; untilMs?: number }[] = [];
  lb.events.ejected.on((e) => events.push({ name: "ejected", instanceId: e.instanceId, untilMs: e.untilMs }));
  lb.events.returned.on((e) => events.push({ name: "returned", instanceId: e.instanceId }));
  lb.events.ejectionSkipped.on((e) => events.push({ name: "ejectionSkipped", instanceId: e.instanceId }));
  lb.events.healthChanged.on((e) => events.push({ name: "healthChanged", instanceId: e.instanceId }));
  return { clock, lb, events };
}

/** A lease on exactly `id` (everything else excluded). */
function leaseOn(lb: LoadBalancer, id: string): Lease {
  const others = new Set(lb.snapshot().instances.map((i) => i.id).filter((x) => x !== id));
  const lease = leased(lb.pick({ exclude: others }));
  expect(lease.instance.id).toBe(id);
  return lease;
}

function fail(lb: LoadBalancer, id: string, times: number): void {
  for (let i = 0; i < times; i++) leaseOn(lb, id).release({ outcome: "failure", latencyMs: 5 });
}

function pickedIds(lb: LoadBalancer, n: number): Map<string, number> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const lease = leased(lb.pick());
    ids.push(lease.instance.id);
    lease.release();
  }
  return countBy(ids);
}

const ejected = (lb: LoadBalancer) => lb.snapshot().instances.filter((i) => i.ejected).map((i) => i.id);

describe("sticky sessions", () => {
  test("a sticky id holds its instance for 100 picks", () => {
    const { lb } = setup({ algorithm: "round_robin" });
    const first = leased(lb.pick());
    first.release();
    for (let i = 0; i < 100; i++) {
      const lease = leased(lb.pick({ stickyId: first.stickyId }));
      expect(lease.instance.id).toBe(first.instance.id);
      expect(lease.repinned).toBe(false);
      lease.release();
    }
  });

  test("re-pins when its instance dies, and the new pin then holds", () => {
    const { lb } = setup({ algorithm: "round_robin" });
    const first = leased(lb.pick());
    first.release();
    lb.setHealthy(first.instance.id, false);
    const moved = leased(lb.pick({ stickyId: first.stickyId }));
    expect(moved.instance.id).not.toBe(first.instance.id);
    expect(moved.repinned).toBe(true);
    moved.release();
    for (let i = 0; i < 10; i++) {
      const lease = leased(lb.pick({ stickyId: moved.stickyId }));
      expect(lease.instance.id).toBe(moved.instance.id);
      expect(lease.repinned).toBe(false);
      lease.release();
    }
  });

  test("re-pins when its instance left discovery or is ejected; unknown ids re-pin", () => {
    const { lb } = setup({ outlier: outlier({ consecutiveErrors: 1 }) });
    const a = leaseOn(lb, "a");
    a.release();
    fail(lb, "a", 1);
    expect(leased(lb.pick({ stickyId: a.stickyId })).repinned).toBe(true);
    const b = leaseOn(lb, "b");
    b.release();
    lb.setInstances(instances("a", "c"));
    expect(leased(lb.pick({ stickyId: b.stickyId })).instance.id).toBe("c");
    expect(leased(lb.pick({ stickyId: "not-a-real-id" })).repinned).toBe(true);
  });

  test("the cookie value does not reveal the address and is stable across balancers", () => {
    const { lb } = setup();
    const lease = leaseOn(lb, "a");
    expect(lease.stickyId).not.toContain("10.0.0.1");
    expect(lease.stickyId).not.toContain(String(lease.instance.port));
    const other = setup().lb;
    expect(leaseOn(other, "a").stickyId).toBe(lease.stickyId);
  });
});

describe("passive outlier detection", () => {
  const od = outlier({ consecutiveErrors: 5, baseEjectionTimeMs: 30_000, maxEjectionTimeMs: 300_000, maxEjectionPercent: 50 });

  test("5 consecutive failures eject for the base time, then the instance returns", () => {
    const { lb, clock, events } = setup({ outlier: od });
    fail(lb, "a", 4);
    expect(ejected(lb)).toEqual([]);
    fail(lb, "a", 1);
    expect(ejected(lb)).toEqual(["a"]);
    expect(events).toContainEqual({ name: "ejected", instanceId: "a", untilMs: clock.now() + 30_000 });
    expect(pickedIds(lb, 30).get("a")).toBeUndefined();

    clock.advance(29_999);
    expect(ejected(lb)).toEqual(["a"]);
    clock.advance(1);
    expect(ejected(lb)).toEqual([]);
    expect(events.at(-1)).toEqual({ name: "returned", instanceId: "a" });
    expect(pickedIds(lb, 30).get("a")).toBe(10);
  });

  test("a success in between resets the count", () => {
    const { lb } = setup({ outlier: od });
    fail(lb, "a", 4);
    leaseOn(lb, "a").release({ outcome: "success" });
    fail(lb, "a", 4);
    expect(ejected(lb)).toEqual([]);
  });

  test("ejection time grows with repeats, capped by max_ejection_time", () => {
    const { lb, clock } = setup({ outlier: { ...od, maxEjectionTimeMs: 75_000 } });
    const durations: number[] = [];
    for (let round = 0; round < 4; round++) {
      fail(lb, "a", 5);
      const until = Date.parse(lb.snapshot().instances.find((i) => i.id === "a")!.ejectedUntil!);
      durations.push(until - clock.now());
      clock.advance(durations.at(-1)!);
      expect(ejected(lb)).toEqual([]);
    }
    expect(durations).toEqual([30_000, 60_000, 75_000, 75_000]);
  });

  test("the multiplier decays while the instance stays in rotation", () => {
    const { lb, clock } = setup({ outlier: od });
    fail(lb, "a", 5);
    clock.advance(30_000);
    fail(lb, "a", 5); // second ejection: 60 s
    clock.advance(60_000);
    clock.advance(60_000); // two base intervals healthy: multiplier 2 → 0
    fail(lb, "a", 5);
    const until = Date.parse(lb.snapshot().instances.find((i) => i.id === "a")!.ejectedUntil!);
    expect(until - clock.now()).toBe(30_000);
  });

  test("max_ejection_percent 50% with 2 of 3 instances failing: only one is ejected", () => {
    const { lb, clock, events } = setup({ outlier: od });
    fail(lb, "a", 5);
    fail(lb, "b", 5);
    fail(lb, "b", 5);
    expect(ejected(lb)).toEqual(["a"]);
    expect(events.filter((e) => e.name === "ejectionSkipped").map((e) => e.instanceId)).toEqual(["b"]);
    // b keeps serving (it is the cap's price); once a returns, b's next failure ejects it.
    let toB = 0;
    for (let i = 0; i < 20; i++) {
      const lease = leased(lb.pick());
      if (lease.instance.id === "b") toB++;
      lease.release({ outcome: lease.instance.id === "b" ? "failure" : "success" });
    }
    expect(toB).toBe(10);
    expect(ejected(lb)).toEqual(["a"]);
    clock.advance(30_000);
    fail(lb, "b", 1);
    expect(ejected(lb)).toEqual(["b"]);
  });

  test("with 2 instances, one may be ejected; a sole instance never is", () => {
    const two = setup({ outlier: od }, ["a", "b"]).lb;
    fail(two, "a", 5);
    fail(two, "b", 5);
    expect(ejected(two)).toEqual(["a"]);

    const one = setup({ outlier: od }, ["a"]).lb;
    fail(one, "a", 50);
    expect(ejected(one)).toEqual([]);
  });

  test("all in rotation ejected or unhealthy → all_unhealthy with the time until the first returns", () => {
    const { lb, clock } = setup({ outlier: { ...od, maxEjectionPercent: 100 } }, ["a", "b"]);
    fail(lb, "a", 5);
    clock.advance(10_000);
    fail(lb, "b", 5);
    const result = lb.pick();
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe("all_unhealthy");
      expect(result.retryAfterMs).toBe(20_000);
    }
  });

  test("disabled outlier detection never ejects", () => {
    const { lb } = setup({ outlier: { ...od, enabled: false } });
    fail(lb, "a", 20);
    expect(ejected(lb)).toEqual([]);
  });
});

describe("max_connections", () => {
  test("a full backend is skipped and used again once a slot frees", () => {
    const { lb } = setup({ algorithm: "round_robin", backends: new Map([["a", { maxConnections: 2 }]]) });
    const held = [leaseOn(lb, "a"), leaseOn(lb, "a")];
    expect(pickedIds(lb, 20).get("a")).toBeUndefined();
    held[0]!.release();
    expect(pickedIds(lb, 30).get("a")).toBe(10);
  });

  test("all full → 'all_full' at once, never a queue", () => {
    const { lb } = setup({ maxConnections: 1 });
    const held = [leased(lb.pick()), leased(lb.pick()), leased(lb.pick())];
    expect(new Set(held.map((l) => l.instance.id)).size).toBe(3);
    const result = lb.pick();
    expect(result).toMatchObject({ ok: false, reason: "all_full", service: "task-service" });
    held[1]!.release();
    expect(leased(lb.pick()).instance.id).toBe(held[1]!.instance.id);
  });

  test("backend config matches by address:port too", () => {
    const clock = new FakeClock();
    const lb = new LoadBalancer("s", options({ backends: new Map([["10.0.0.9:8082", { maxConnections: 1, weight: 7 }]]) }), { clock });
    lb.setInstances([instance("x", { address: "10.0.0.9", port: 8082 })]);
    expect(lb.snapshot().instances[0]).toMatchObject({ maxConnections: 1, weight: 7 });
  });
});

describe("load signals (429 / RESOURCE_EXHAUSTED)", () => {
  test("never eject, however many", () => {
    const { lb } = setup({ outlier: outlier({ consecutiveErrors: 2 }) });
    for (let i = 0; i < 20; i++) leaseOn(lb, "a").release({ outcome: "load" });
    expect(ejected(lb)).toEqual([]);
    expect(lb.snapshot().instances.find((i) => i.id === "a")!.consecutiveFailures).toBe(0);
  });

  test("back off the instance for its Retry-After, preferring the others", () => {
    const { lb, clock } = setup({ algorithm: "round_robin" });
    leaseOn(lb, "a").release({ outcome: "load", retryAfterMs: 5_000 });
    expect(pickedIds(lb, 20).get("a")).toBeUndefined();
    clock.advance(4_999);
    expect(pickedIds(lb, 20).get("a")).toBeUndefined();
    clock.advance(1);
    expect(pickedIds(lb, 30).get("a")).toBe(10);
  });

  test("without Retry-After the default back-off applies; a huge one is capped", () => {
    const { lb, clock } = setup({ algorithm: "round_robin", loadBackoff: { defaultMs: 1_000, maxMs: 30_000 } });
    leaseOn(lb, "a").release({ outcome: "load" });
    leaseOn(lb, "b").release({ outcome: "load", retryAfterMs: 3_600_000 });
    clock.advance(1_000);
    expect(pickedIds(lb, 20).get("a")).toBe(10);
    expect(pickedIds(lb, 20).get("b")).toBeUndefined();
    clock.advance(29_000);
    expect(pickedIds(lb, 30).get("b")).toBe(10);
  });

  test("a backed-off instance is still used when nothing else can serve", () => {
    const { lb } = setup({}, ["a", "b"]);
    leaseOn(lb, "a").release({ outcome: "load" });
    lb.setHealthy("b", false);
    expect(leased(lb.pick()).instance.id).toBe("a");
  });
});

describe("discovery updates", () => {
  test("survivors keep their state, removed ones are dropped, new ones get traffic", () => {
    const { lb, clock } = setup({ algorithm: "round_robin", outlier: outlier({ consecutiveErrors: 1 }) });
    fail(lb, "a", 1);
    const onB = leaseOn(lb, "b");
    const onC = leaseOn(lb, "c");
    lb.setInstances(instances("a", "b", "d"));

    const snap = lb.snapshot().instances;
    expect(snap.map((i) => i.id)).toEqual(["a", "b", "d"]);
    expect(snap.find((i) => i.id === "a")!.ejected).toBe(true);
    expect(snap.find((i) => i.id === "b")!.inflight).toBe(1);
    expect(pickedIds(lb, 20)).toEqual(new Map([["b", 10], ["d", 10]]));

    onB.release();
    onC.release({ outcome: "failure" }); // a late answer from a removed instance changes nothing
    expect(lb.snapshot().instances.find((i) => i.id === "b")!.inflight).toBe(0);
    clock.advance(30_000);
    expect(ejected(lb)).toEqual([]);
  });

  test("an instance that left and came back starts fresh", () => {
    const { lb } = setup({ outlier: outlier({ consecutiveErrors: 1 }) });
    fail(lb, "a", 1);
    lb.setInstances(instances("b", "c"));
    lb.setInstances(instances("a", "b", "c"));
    expect(ejected(lb)).toEqual([]);
  });

  test("weight changes from discovery take effect", () => {
    const { lb } = setup({ algorithm: "weighted_round_robin" });
    lb.setInstances([instance("a", { weight: 300 }), instance("b", { weight: 100 })]);
    expect(pickedIds(lb, 400)).toEqual(new Map([["a", 300], ["b", 100]]));
  });
});

describe("pick results and leases", () => {
  test("no instances → 'no_instances'", () => {
    const { lb } = setup({}, []);
    expect(lb.pick()).toMatchObject({ ok: false, reason: "no_instances" });
  });

  test("every usable instance excluded → 'all_excluded'", () => {
    const { lb } = setup();
    expect(lb.pick({ exclude: new Set(["a", "b", "c"]) })).toMatchObject({ ok: false, reason: "all_excluded" });
  });

  test("releasing twice counts once", () => {
    const { lb } = setup();
    const lease = leaseOn(lb, "a");
    lease.release({ outcome: "failure" });
    lease.release({ outcome: "failure" });
    const a = lb.snapshot().instances.find((i) => i.id === "a")!;
    expect(a.inflight).toBe(0);
    expect(a.consecutiveFailures).toBe(1);
  });

  test("latency is measured from the pick when the caller does not give it", () => {
    const { lb, clock } = setup({}, ["a"]);
    const lease = leased(lb.pick());
    clock.advance(250);
    lease.release();
    expect(lb.snapshot().instances[0]!.ewmaMs).toBe(250);
    leased(lb.pick()).release({ outcome: "success", latencyMs: 400 });
    expect(lb.snapshot().instances[0]!.ewmaMs).toBe(400);
  });

  test("health changes are announced once per change", () => {
    const { lb, events } = setup();
    lb.setHealthy("a", false);
    lb.setHealthy("a", false);
    lb.setHealthy("a", true);
    expect(events).toEqual([
      { name: "healthChanged", instanceId: "a" },
      { name: "healthChanged", instanceId: "a" },
    ]);
  });

  test("snapshot: the seed's {healthy, instances} shape with per-instance state", () => {
    const { lb } = setup({ outlier: outlier({ consecutiveErrors: 1 }) }, ["a", "b"]);
    fail(lb, "a", 1);
    lb.setHealthy("b", false);
    const snap = lb.snapshot();
    expect(snap.healthy).toBe(false);
    expect(snap.instances[0]).toMatchObject({ id: "a", address: "10.0.0.1", port: 9000, healthy: true, ejected: true, inflight: 0, weight: 100 });
    expect(typeof snap.instances[0]!.ejectedUntil).toBe("string");
    expect(snap.instances[1]).toMatchObject({ id: "b", healthy: false, ejected: false, ejectedUntil: null, grpcPort: null });
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  test("close stops ejection timers", () => {
    const { lb, clock } = setup({ outlier: outlier({ consecutiveErrors: 1 }) });
    fail(lb, "a", 1);
    expect(clock.pendingTimers()).toBe(1);
    lb.close();
    expect(clock.pendingTimers()).toBe(0);
  });
});
