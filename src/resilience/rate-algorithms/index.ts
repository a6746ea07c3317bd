import type { RateAlgorithm } from "./algorithm.ts";
import { FixedWindow } from "./fixed-window.ts";
import { Gcra } from "./gcra.ts";
import { SlidingWindow } from "./sliding-window.ts";

export { type KeyState, type RateAlgorithm, type RateLimitDecision } from "./algorithm.ts";
export { FixedWindow, Gcra, SlidingWindow };

export const RATE_ALGORITHMS = ["fixed_window", "sliding_window", "gcra"] as const;
export type RateAlgorithmName = (typeof RATE_ALGORITHMS)[number];

export function rateAlgorithm(name: RateAlgorithmName, limit: number, windowMs: number): RateAlgorithm {
  switch (name) {
    case "fixed_window": return new FixedWindow(limit, windowMs);
    case "sliding_window": return new SlidingWindow(limit, windowMs);
    case "gcra": return new Gcra(limit, windowMs);
  }
}
