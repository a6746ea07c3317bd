import { describe, expect, test } from "bun:test";
import { LoadBalancer } from "../../../src/balancing/balancer.ts";
import type { Algorithm } from "../../../src/balancing/strategy.ts";
import { FakeClock } from "../../../src/platform/clock.ts";
import { countBy, instance, instances, leased, options, seededRandom } from "./helpers.ts";

function balancer(algorithm: Algorithm, clock = new FakeClock(), random = seededRandom()): LoadBalancer {
  return new LoadBalancer("task-service", options({ algorithm }), { clock, random });
}

/** pick + immediate success release, n times; returns the chosen ids in order. */
function picks(lb: LoadBalancer, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const lease = leased(lb.pick());
    out.push(lease.instance.id);
    lease.release();
  }
  return out;
}

function longestRun(ids: readonly string[]): number {
  let best = 0;
  let run = 0;
  for (let i = 0; i < ids.length; i++) {
    run = i > 0 && ids[i] === ids[i - 1] ? run + 1 : 1;
    best = Math.max(best, run);
  }
  return best;
}

describe("round_robin", () => {
  test("visits healthy instances in exact turn and never the unhealthy one", () => {
    const lb = balancer("round_robin");
    lb.setInstances(instances("a", "b", "c", "d"));
    lb.setHealthy("b", false);
    expect(picks(lb, 9)).toEqual(["a", "c", "d", "a", "c", "d", "a", "c", "d"]);
  });

  test("shares exactly evenly over many picks", () => {
    const lb = balancer("round_robin");
    lb.setInstances(instances("a", "b", "c"));
    const counts = countBy(picks(lb, 3000));
    expect([...counts.values()]).toEqual([1000, 1000, 1000]);
  });
});

describe("weighted_round_robin", () => {
  test("follows weights within 5% over 10k picks", () => {
    const lb = balancer("weighted_round_robin");
    lb.setInstances([instance("a", { weight: 50 }), instance("b", { weight: 30 }), instance("c", { weight: 20 })]);
    const counts = countBy(picks(lb, 10_000));
    for (const [id, weight] of [["a", 50], ["b", 30], ["c", 20]] as const) {
      const expected = (10_000 * weight) / 100;
      expect(Math.abs((counts.get(id) ?? 0) - expected) / expected).toBeLessThan(0.05);
    }
  });

  test("is smooth: 5:1:1 interleaves as nginx does, no long bursts", () => {
    const lb = balancer("weighted_round_robin");
    lb.setInstances([instance("a", { weight: 5 }), instance("b", { weight: 1 }), instance("c", { weight: 1 })]);
    expect(picks(lb, 7)).toEqual(["a", "a", "b", "a", "c", "a", "a"]);

    const lb2 = balancer("weighted_round_robin");
    lb2.setInstances([instance("a", { weight: 50 }), instance("b", { weight: 30 }), instance("c", { weight: 20 })]);
    expect(longestRun(picks(lb2, 10_000))).toBeLessThanOrEqual(2);
  });

  test("skips an unhealthy instance and splits its share by the others' weights", () => {
    const lb = balancer("weighted_round_robin");
    lb.setInstances([instance("a", { weight: 300 }), instance("b", { weight: 100 }), instance("c", { weight: 500 })]);
    lb.setHealthy("c", false);
    const counts = countBy(picks(lb, 4000));
    expect(counts.get("c")).toBeUndefined();
    expect(counts.get("a")).toBe(3000);
    expect(counts.get("b")).toBe(1000);
  });
});

describe("least_connections", () => {
  test("sends the next request to the idle instance (two instances)", () => {
    const lb = balancer("least_connections");
    lb.setInstances(instances("a", "b"));
    const held = leased(lb.pick());
    for (let i = 0; i < 20; i++) {
      const next = leased(lb.pick());
      expect(next.instance.id).not.toBe(held.instance.id);
      next.release();
    }
  });

  test("with many instances, a busy one gets nothing while others are idle (power of two choices)", () => {
    const lb = balancer("least_connections");
    const all = instances("i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8", "i9");
    lb.setInstances(all);
    const others = new Set(all.slice(1).map((i) => i.id));
    leased(lb.pick({ exclude: others }));
    leased(lb.pick({ exclude: others })); // i0 now has 2 in flight
    const counts = countBy(picks(lb, 2000));
    expect(counts.get("i0")).toBeUndefined();
    expect(counts.size).toBe(9);
  });

  test("idle instances share traffic when everyone is idle", () => {
    const lb = balancer("least_connections");
    lb.setInstances(instances("a", "b"));
    const counts = countBy(picks(lb, 2000));
    expect(counts.get("a")!).toBeGreaterThan(800);
    expect(counts.get("b")!).toBeGreaterThan(800);
  });
});

describe("random", () => {
  test("uniform over healthy instances only", () => {
    const lb = balancer("random");
    lb.setInstances(instances("a", "b", "c"));
    lb.setHealthy("b", false);
    const counts = countBy(picks(lb, 6000));
    expect(counts.get("b")).toBeUndefined();
    expect(Math.abs(counts.get("a")! - 3000)).toBeLessThan(150);
  });
});

describe("p2c_ewma", () => {
  /**
   * Closed-loop load on the fake clock: `workers` clients each send a request,
   * wait the instance's latency, send the next. Returns picks per instance.
   */
  function simulate(lb: LoadBalancer, clock: FakeClock, latencyMs: (id: string) => number, workers: number, durationMs: number) {
    const counts = new Map<string, number>();
    const end = clock.now() + durationMs;
    const next = (): void => {
      if (clock.now() >= end) return;
      const lease = leased(lb.pick());
      const id = lease.instance.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
      clock.setTimeout(() => {
        lease.release({ outcome: "success" });
        next();
      }, latencyMs(id));
    };
    for (let w = 0; w < workers; w++) next();
    clock.advance(durationMs + 1_000);
    return counts;
  }

  const share = (counts: Map<string, number>, id: string) =>
    (counts.get(id) ?? 0) / [...counts.values()].reduce((a, b) => a + b, 0);

  test("moves over 80% of its traffic off an instance slowed by 50 ms", () => {
    const clock = new FakeClock();
    const lb = balancer("p2c_ewma", clock);
    lb.setInstances(instances("a", "b", "c"));
    const latency = new Map([["a", 10], ["b", 10], ["c", 10]]);
    const before = simulate(lb, clock, (id) => latency.get(id)!, 8, 5_000);
    expect(share(before, "c")).toBeGreaterThan(0.25);

    latency.set("c", 60);
    const after = simulate(lb, clock, (id) => latency.get(id)!, 8, 20_000);
    expect(share(after, "c")).toBeLessThan((1 / 3) * 0.2);
  });

  test("round robin under the same load keeps feeding the slow instance (what p2c_ewma fixes)", () => {
    const clock = new FakeClock();
    const lb = balancer("round_robin", clock);
    lb.setInstances(instances("a", "b", "c"));
    const after = simulate(lb, clock, (id) => (id === "c" ? 60 : 10), 8, 20_000);
    expect(share(after, "c")).toBeGreaterThan(0.2);
  });

  test("a slow instance recovers its share once it is fast again", () => {
    const clock = new FakeClock();
    const lb = balancer("p2c_ewma", clock);
    lb.setInstances(instances("a", "b", "c"));
    const latency = new Map([["a", 10], ["b", 10], ["c", 60]]);
    simulate(lb, clock, (id) => latency.get(id)!, 8, 10_000);
    latency.set("c", 10);
    const recovered = simulate(lb, clock, (id) => latency.get(id)!, 8, 60_000);
    expect(share(recovered, "c")).toBeGreaterThan(0.25);
  });

  test("a new instance starts at a neutral cost and gets traffic", () => {
    const clock = new FakeClock();
    const lb = balancer("p2c_ewma", clock);
    lb.setInstances(instances("a", "b"));
    simulate(lb, clock, () => 20, 4, 2_000);
    lb.setInstances(instances("a", "b", "c"));
    const counts = simulate(lb, clock, () => 20, 4, 5_000);
    expect(share(counts, "c")).toBeGreaterThan(0.25);
  });
});
