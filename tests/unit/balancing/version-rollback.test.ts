import { describe, expect, test } from "bun:test";
import { type Rollback, VersionRollback } from "../../../src/balancing/version-rollback.ts";
import { VersionSplit } from "../../../src/balancing/version-split.ts";
import { FakeClock } from "../../../src/platform/clock.ts";

function setup(marginPercent = 10, minRequests = 20, windowMs = 10_000) {
  const clock = new FakeClock();
  const split = new VersionSplit({ "1": 90, "2": 10 });
  const seen: Rollback[] = [];
  const rb = new VersionRollback({ stable: "1", marginPercent, windowMs, minRequests }, split, clock, (r) => seen.push(r));
  return { clock, split, rb, seen };
}

const run = (rb: VersionRollback, version: string, n: number, failEvery: number) => {
  for (let i = 0; i < n; i++) rb.record(version, failEvery > 0 && i % failEvery === 0);
};

describe("automatic rollback", () => {
  test("v2 failing 50% against v1's 0%: all traffic back to v1, once, with the figures", () => {
    const { split, rb, seen } = setup();
    run(rb, "1", 100, 0);
    run(rb, "2", 40, 2);
    expect(seen.length).toBe(1);
    expect(seen[0]).toMatchObject({ from: "2", to: "1", stableErrorRate: 0 });
    expect(seen[0]!.errorRate).toBeGreaterThan(0.1);
    expect(split.all).toEqual({ "1": 100, "2": 0 });
    expect(new Set(Array.from({ length: 20 }, () => split.next()))).toEqual(new Set(["1"]));
    run(rb, "2", 40, 1);
    expect(seen.length).toBe(1);
  });

  test("within the margin, or too few requests to judge: no rollback", () => {
    const a = setup(10);
    run(a.rb, "1", 100, 20); // 5%
    run(a.rb, "2", 100, 10); // 10%: 5 points above, margin 10
    expect(a.seen.length).toBe(0);
    const b = setup(10, 20);
    run(b.rb, "2", 19, 1); // every one failed, but only 19
    expect(b.seen.length).toBe(0);
    run(b.rb, "2", 1, 1);
    expect(b.seen.length).toBe(1);
  });

  test("failures older than the window are forgotten; reset() watches again from zero", () => {
    const { clock, rb, seen, split } = setup(10, 20, 10_000);
    run(rb, "2", 15, 1);
    clock.advance(11_000);
    run(rb, "2", 10, 1); // only 10 in the window now
    expect(seen.length).toBe(0);
    run(rb, "2", 10, 1);
    expect(seen.length).toBe(1);
    split.set({ "1": 50, "2": 50 });
    rb.reset();
    run(rb, "2", 30, 0);
    expect(seen.length).toBe(1);
  });
});
