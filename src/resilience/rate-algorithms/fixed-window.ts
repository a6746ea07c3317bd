import { allowed, type KeyState, type RateAlgorithm, type RateLimitDecision, refused } from "./algorithm.ts";

/**
 * rate-limiter-flexible's `points`/`duration`: `limit` requests per window, the window
 * starting at the key's first request (not at a wall-clock boundary); the next request after
 * it ends starts a new one. State: a = window start, b = requests admitted in it.
 */
export class FixedWindow implements RateAlgorithm {
  constructor(readonly limit: number, readonly windowMs: number) {}

  init(state: KeyState, now: number): void {
    state.a = now;
    state.b = 0;
  }

  take(state: KeyState, now: number): RateLimitDecision {
    if (now >= state.a + this.windowMs) this.init(state, now);
    const left = state.a + this.windowMs - now;
    if (state.b >= this.limit) return refused(this.limit, this.windowMs, left, left);
    state.b++;
    return allowed(this.limit, this.windowMs, this.limit - state.b, left);
  }

  idleAt(state: KeyState): number {
    return state.a + this.windowMs;
  }
}
