import { allowed, type KeyState, type RateAlgorithm, type RateLimitDecision, refused } from "./algorithm.ts";

/**
 * Token bucket as GCRA (capacity `limit`, refilled continuously at `limit` per `windowMs`):
 * one number per key, exact integer arithmetic. Time is counted in units of ms × limit, so one
 * request costs `windowMs` units and one ms refills `limit`. State: a = theoretical arrival time.
 */
export class Gcra implements RateAlgorithm {
  private readonly capacity: number;

  constructor(readonly limit: number, readonly windowMs: number) {
    this.capacity = windowMs * limit;
  }

  init(state: KeyState, now: number): void {
    state.a = now * this.limit;
  }

  take(state: KeyState, now: number): RateLimitDecision {
    const limit = this.limit;
    const t = now * limit;
    const start = state.a < t ? t : state.a;
    const debt = start - t;
    const after = debt + this.windowMs;
    if (after > this.capacity) {
      return refused(limit, this.windowMs, Math.ceil((after - this.capacity) / limit), Math.ceil(debt / limit));
    }
    state.a = start + this.windowMs;
    return allowed(limit, this.windowMs, Math.floor((this.capacity - after) / this.windowMs), Math.ceil(after / limit));
  }

  idleAt(state: KeyState): number {
    return Math.ceil(state.a / this.limit);
  }
}
