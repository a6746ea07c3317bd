/** One key's counters; what each number means is the algorithm's business. */
export interface KeyState {
  a: number;
  b: number;
  c: number;
}

/** Everything a RateLimit-* / Retry-After header needs. */
export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Ms until the key's quota is whole again. */
  resetMs: number;
  /** Ms until the next request would be allowed (0 when allowed). */
  retryAfterMs: number;
  /** The policy's window in ms (RateLimit-Policy's `w`). */
  windowMs: number;
}

/**
 * How one key's requests are counted. `now` is whole ms since the limiter's origin; `take`
 * admits one request (updating `state`) or refuses it (leaving the count as it was).
 */
export interface RateAlgorithm {
  readonly limit: number;
  readonly windowMs: number;
  /** A key seen for the first time at `now`. */
  init(state: KeyState, now: number): void;
  take(state: KeyState, now: number): RateLimitDecision;
  /** From when the key's state is the same as a fresh key's, so it may be dropped. */
  idleAt(state: KeyState): number;
}

export function allowed(limit: number, windowMs: number, remaining: number, resetMs: number): RateLimitDecision {
  return { allowed: true, limit, remaining, resetMs, retryAfterMs: 0, windowMs };
}

export function refused(limit: number, windowMs: number, retryAfterMs: number, resetMs: number): RateLimitDecision {
  return { allowed: false, limit, remaining: 0, resetMs: Math.max(resetMs, retryAfterMs), retryAfterMs, windowMs };
}
