/**
 * What a circuit breaker's state machine needs from its window of recent calls.
 * Implementations keep running totals and subtract what falls out, so every call is O(1).
 */
export interface SlidingWindow {
  /** Adds one finished call at `nowMs`. */
  record(nowMs: number, failed: boolean, slow: boolean): void;
  /** Drops whatever has aged out by `nowMs` (time windows); a no-op for count windows. */
  refresh(nowMs: number): void;
  readonly buffered: number;
  readonly failed: number;
  readonly slow: number;
  reset(): void;
}
