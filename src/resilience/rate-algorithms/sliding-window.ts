import { allowed, type KeyState, type RateAlgorithm, type RateLimitDecision, refused } from "./algorithm.ts";

/**
 * Sliding window counter (as Cloudflare's and nginx's limiters estimate it): the count over
 * the last `windowMs` is the current window's requests plus the previous window's, weighted by
 * how much of it still overlaps. Windows follow each other from the key's first request.
 * State: a = current window start, b = previous window's count, c = current window's count.
 * Arithmetic stays in integers: estimate × windowMs = b × (W − elapsed) + c × W.
 */
export class SlidingWindow implements RateAlgorithm {
  constructor(readonly limit: number, readonly windowMs: number) {}

  init(state: KeyState, now: number): void {
    state.a = now;
    state.b = 0;
    state.c = 0;
  }

  take(state: KeyState, now: number): RateLimitDecision {
    const w = this.windowMs;
    const l = this.limit;
    if (now >= state.a + w) {
      const windows = Math.floor((now - state.a) / w);
      state.b = windows === 1 ? state.c : 0;
      state.c = 0;
      state.a += windows * w;
    }
    const elapsed = now - state.a;
    const weighted = state.b * (w - elapsed);
    if (weighted + (state.c + 1) * w > l * w) {
      return refused(l, w, this.waitMs(state, elapsed), this.resetMs(state, elapsed));
    }
    state.c++;
    const remaining = Math.floor((l * w - weighted - state.c * w) / w);
    return allowed(l, w, Math.max(0, remaining), this.resetMs(state, elapsed));
  }

  idleAt(state: KeyState): number {
    return state.a + (state.c > 0 ? 2 : 1) * this.windowMs;
  }

  /** Ms until one more request fits (called only when it does not now). */
  private waitMs(state: KeyState, elapsed: number): number {
    const w = this.windowMs;
    const l = this.limit;
    if (state.c < l) {
      // the previous window's weight must shrink to (l − c − 1) requests: b × (w − e) ≤ (l − c − 1) × w
      const at = Math.ceil(w - ((l - state.c - 1) * w) / state.b);
      return Math.max(1, at - elapsed);
    }
    // next window: this one's c requests weigh in as the previous one's
    const at = Math.max(0, Math.ceil(w - ((l - 1) * w) / state.c));
    return w - elapsed + at;
  }

  /** Ms until nothing counted so far weighs any more. */
  private resetMs(state: KeyState, elapsed: number): number {
    if (state.c > 0) return 2 * this.windowMs - elapsed;
    return state.b > 0 ? this.windowMs - elapsed : 0;
  }
}
