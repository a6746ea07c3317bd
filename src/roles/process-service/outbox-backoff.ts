import type { Random } from "../../platform/clock.ts";

/** How long a failed outbox record waits before its next attempt. */
export interface OutboxBackoff {
  initialMs: number;
  multiplier: number;
  maxMs: number;
  /** A downstream's own "retry after" (an open breaker) is honoured up to this long. */
  maxRetryAfterMs: number;
}

export const DEFAULT_OUTBOX_BACKOFF: OutboxBackoff = { initialMs: 200, multiplier: 2, maxMs: 10_000, maxRetryAfterMs: 60_000 };

/**
 * Exponential with equal jitter (half fixed, half random), so records that failed together do
 * not all come back in the same millisecond; never sooner than the downstream asked.
 */
export function outboxDelayMs(attempt: number, backoff: OutboxBackoff, random: Random, retryAfterMs?: number): number {
  const exp = Math.min(backoff.maxMs, backoff.initialMs * backoff.multiplier ** Math.max(0, attempt - 1));
  const jittered = exp / 2 + (random() * exp) / 2;
  return Math.round(Math.max(jittered, Math.min(retryAfterMs ?? 0, backoff.maxRetryAfterMs)));
}
