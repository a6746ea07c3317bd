import { describe, expect, test } from "bun:test";
import { Backoff } from "../../../src/discovery/consul-backoff.ts";

const steps = (b: Backoff, n: number) => Array.from({ length: n }, () => b.next());

describe("backoff between failed Consul calls", () => {
  test("doubles from the initial wait up to the cap", () => {
    const top = new Backoff({ initialMs: 250, maxMs: 10_000, random: () => 0.999999 });
    const waits = steps(top, 8).map(Math.round);
    expect(waits).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  test("jitter spreads each wait over the upper half of its step, never below it", () => {
    const low = new Backoff({ initialMs: 250, maxMs: 10_000, random: () => 0 });
    expect(steps(low, 7)).toEqual([125, 250, 500, 1000, 2000, 4000, 5000]);
    const mid = new Backoff({ initialMs: 1000, maxMs: 10_000, random: () => 0.5 });
    expect(mid.next()).toBe(750);
  });

  test("two clients failing together wait different times", () => {
    let seed = 1;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const a = new Backoff({ initialMs: 1000, maxMs: 10_000, random: rnd });
    const b = new Backoff({ initialMs: 1000, maxMs: 10_000, random: rnd });
    expect(steps(a, 4)).not.toEqual(steps(b, 4));
  });

  test("a success starts the schedule over", () => {
    const b = new Backoff({ initialMs: 100, maxMs: 10_000, random: () => 0.999999 });
    steps(b, 5);
    expect(b.failures).toBe(5);
    b.reset();
    expect(b.failures).toBe(0);
    expect(Math.round(b.next())).toBe(100);
  });
});
