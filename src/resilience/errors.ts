import { BpmError, UnavailableError, UpstreamTimeoutError } from "../core/errors.ts";

/** A circuit breaker refused the call; `retryAfterMs` is the time left in OPEN (503 + Retry-After). */
export class CallNotPermittedError extends UnavailableError {
  readonly breakerName: string;
  readonly state: string;
  constructor(breakerName: string, state: string, retryAfterMs: number) {
    super(`circuit breaker '${breakerName}' is ${state}; call not permitted`, retryAfterMs, "CIRCUIT_OPEN");
    this.breakerName = breakerName;
    this.state = state;
  }
}

/** A bulkhead had no free slot and no room (or time) to wait for one. */
export class BulkheadFullError extends UnavailableError {
  readonly bulkheadName: string;
  constructor(bulkheadName: string, maxConcurrentCalls: number) {
    super(`bulkhead '${bulkheadName}' is full (${maxConcurrentCalls} concurrent calls)`, undefined, "BULKHEAD_FULL");
    this.bulkheadName = bulkheadName;
  }
}

/** The call ran out of time: its own timeout or the caller's deadline (504). */
export class TimeoutError extends UpstreamTimeoutError {
  readonly timeoutMs: number;
  /** "timeout" when the policy's timeoutDuration fired, "deadline" when the caller's deadline did. */
  readonly reason: "timeout" | "deadline";
  constructor(name: string, timeoutMs: number, reason: "timeout" | "deadline") {
    super(
      reason === "deadline"
        ? `call to '${name}' exceeded the caller's deadline`
        : `call to '${name}' timed out after ${Math.round(timeoutMs)} ms`,
    );
    this.timeoutMs = timeoutMs;
    this.reason = reason;
  }
}

/** A rate limiter refused the request; `retryAfterMs` says when a token is next free (429). */
export class RateLimitedError extends BpmError {
  readonly limit: number;
  constructor(message: string, retryAfterMs: number, limit: number) {
    super(message, { code: "RATE_LIMITED", httpStatus: 429, retryAfterMs });
    this.limit = limit;
  }
}

/** True for our own local refusals, which say nothing about the downstream's health (errors may opt in with `localRejection`). */
export function isLocalRejection(error: unknown): boolean {
  return (
    error instanceof CallNotPermittedError ||
    error instanceof BulkheadFullError ||
    error instanceof RateLimitedError ||
    (error as { localRejection?: unknown } | null)?.localRejection === true
  );
}
