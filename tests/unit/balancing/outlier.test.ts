import { describe, expect, test } from "bun:test";
import { decayedEjections, ejectionDurationMs, maxEjectable } from "../../../src/balancing/outlier.ts";

describe("max_ejection_percent bound", () => {
  test.each([
    [3, 50, 1], // 2 of 3 would be 66% > 50%
    [2, 50, 1],
    [4, 50, 2],
    [5, 50, 2],
    [10, 10, 1],
    [3, 10, 1], // Envoy: at least one when there are two or more
    [1, 50, 0], // never the sole instance...
    [1, 100, 1], // ...unless the operator allows 100%
    [3, 100, 3],
    [3, 0, 0], // 0% disables ejection
    [0, 50, 0],
    [100, 33, 33],
  ])("%i instances at %i%% → at most %i ejected", (total, percent, expected) => {
    expect(maxEjectable(total, percent)).toBe(expected);
  });
});

describe("ejection time", () => {
  test("base × times ejected, capped at max", () => {
    expect([1, 2, 3, 20].map((n) => ejectionDurationMs(n, 30_000, 300_000))).toEqual([30_000, 60_000, 90_000, 300_000]);
  });

  test("a max below base still ejects for base", () => {
    expect(ejectionDurationMs(1, 30_000, 10_000)).toBe(30_000);
  });

  test("multiplier drops by one per base interval in rotation", () => {
    expect(decayedEjections(3, 29_999, 30_000)).toBe(3);
    expect(decayedEjections(3, 30_000, 30_000)).toBe(2);
    expect(decayedEjections(3, 1_000_000, 30_000)).toBe(0);
  });
});
