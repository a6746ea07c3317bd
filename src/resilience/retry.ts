import { type Clock, type Random, systemClock, systemRandom } from "../core/clock.ts";
import { RETRY_DEFAULTS, type RetryConfig } from "./config.ts";
import { Emitter } from "./emitter.ts";
import { isHttpResponse, isRetryableError, isRetryableResponse, type ResultPredicate } from "./outcome.ts";
import { type CallOptions, invoke, NEVER_ABORTED, type Policy, sleepUnlessAborted } from "./policy.ts";
import type { RetryBudget } from "./retry-budget.ts";

type BackoffConfig = Pick<RetryConfig, "maxAttempts" | "backoffPeriod" | "backoffMultiplier" | "maxBackoffPeriod" | "jitter">;

export interface RetryOptions extends Partial<BackoffConfig> {
  name?: string;
  clock?: Clock;
  random?: Random;
  /** Shared per downstream; without one, retries are limited only by maxAttempts. */
  budget?: RetryBudget;
  /** Whether an error is worth another attempt; default `isRetryableError` (transient only). */
  retryOn?: (error: unknown, callerSignal?: AbortSignal) => boolean;
  /** Whether a returned value is worth another attempt; default: a 502/503/504 Response. null to disable. */
  retryOnResult?: ResultPredicate | null;
}

export interface RetryEvent { name: string; /** The attempt about to run (2 = first retry). */ attempt: number; delayMs: number; error: unknown }
/** Retrying stopped while the outcome was still worth retrying (Resilience4j's ERROR event, plus bpm's own limits). */
export interface GiveUpEvent { name: string; attempts: number; reason: "maxAttempts" | "deadline" | "budget" | "notIdempotent" | "cancelled" }
/** An error retry does not handle (4xx, an open breaker, a full bulkhead…): passed on, no retry was ever in question (Resilience4j's IGNORED_ERROR). */
export interface IgnoredErrorEvent { name: string; attempts: number; error: unknown }

export interface RetryMetrics {
  successfulWithoutRetry: number;
  successfulWithRetry: number;
  failedWithoutRetry: number;
  failedWithRetry: number;
  /** Retries made (attempts after the first). */
  retries: number;
  /** Retries refused by the retry budget. */
  budgetExhausted: number;
}

/** What the last attempt produced, so giving up returns or throws exactly that. */
type Last<T> = { failed: true; error: unknown } | { failed: false; value: T };

/**
 * Retries transient failures with capped exponential backoff and full jitter. Never retries a
 * call marked non-idempotent, never sleeps past the caller's deadline or after its signal
 * fires, and asks the downstream's shared RetryBudget before every retry.
 */
export class Retry implements Policy {
  readonly name: string;
  readonly config: Readonly<BackoffConfig>;
  readonly onRetry = new Emitter<RetryEvent>();
  readonly onGiveUp = new Emitter<GiveUpEvent>();
  readonly onIgnoredError = new Emitter<IgnoredErrorEvent>();
  readonly budget: RetryBudget | undefined;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly retryOn: (error: unknown, callerSignal?: AbortSignal) => boolean;
  private readonly retryOnResult: ResultPredicate | null;
  private readonly counts: RetryMetrics = {
    successfulWithoutRetry: 0, successfulWithRetry: 0, failedWithoutRetry: 0, failedWithRetry: 0, retries: 0, budgetExhausted: 0,
  };

  constructor(options: RetryOptions = {}) {
    this.name = options.name ?? "default";
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.budget = options.budget;
    this.retryOn = options.retryOn ?? isRetryableError;
    this.retryOnResult = options.retryOnResult === undefined ? isRetryableResponse : options.retryOnResult;
    this.config = Object.freeze({
      maxAttempts: options.maxAttempts ?? RETRY_DEFAULTS.maxAttempts,
      backoffPeriod: options.backoffPeriod ?? RETRY_DEFAULTS.backoffPeriod,
      backoffMultiplier: options.backoffMultiplier ?? RETRY_DEFAULTS.backoffMultiplier,
      maxBackoffPeriod: options.maxBackoffPeriod ?? RETRY_DEFAULTS.maxBackoffPeriod,
      jitter: options.jitter ?? RETRY_DEFAULTS.jitter,
    });
  }

  metrics(): RetryMetrics {
    return { ...this.counts };
  }

  /** Wait before retry number `retry` (1 = first retry): capped exponential, then jittered. */
  delayFor(retry: number): number {
    const { backoffPeriod, backoffMultiplier, maxBackoffPeriod, jitter } = this.config;
    const base = Math.min(maxBackoffPeriod, backoffPeriod * backoffMultiplier ** (retry - 1));
    if (jitter === "none") return base;
    if (jitter === "equal") return base / 2 + this.random() * (base / 2);
    return this.random() * base;
  }

  execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal = NEVER_ABORTED, options?: CallOptions): Promise<T> {
    this.budget?.recordRequest();
    return this.loop(fn, signal, options, 1, null);
  }

  /**
   * For a caller that makes the first attempt itself, without a promise (the gateway's
   * direct path): call `begin` before it, then `firstSucceeded` with its value — true
   * means done, counted as `execute` would; otherwise (an error, or a value worth
   * retrying) `resume` with that outcome goes on exactly as `execute` would have.
   */
  begin(): void {
    this.budget?.recordRequest();
  }

  firstSucceeded(value: unknown): boolean {
    if (this.retryOnResult !== null && this.retryOnResult(value)) return false;
    this.counts.successfulWithoutRetry++;
    return true;
  }

  resume<T>(first: { failed: true; error: unknown } | { failed: false; value: T }, fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal = NEVER_ABORTED, options?: CallOptions): Promise<T> {
    return this.loop(fn, signal, options, 1, first);
  }

  /** Attempts from `attempt` on; `last` is that attempt's outcome when it was made already. */
  private async loop<T>(fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal, options: CallOptions | undefined, attempt: number, last: Last<T> | null): Promise<T> {
    const maxAttempts = options?.idempotent === false ? 1 : this.config.maxAttempts;
    for (; ; attempt++) {
      if (last === null) {
        try {
          const value = await invoke(fn, signal);
          if (this.retryOnResult === null || !this.retryOnResult(value)) return this.succeeded(value, attempt);
          last = { failed: false, value };
        } catch (error) {
          last = { failed: true, error };
        }
      } else if (!last.failed && (this.retryOnResult === null || !this.retryOnResult(last.value))) {
        return this.succeeded(last.value, attempt);
      }
      if (last.failed && !this.retryOn(last.error, signal)) return this.ignored(last.error, attempt);
      if (attempt >= maxAttempts) return this.giveUp(last, attempt, attempt < this.config.maxAttempts ? "notIdempotent" : "maxAttempts");
      if (signal.aborted) return this.giveUp(last, attempt, "cancelled");
      const delayMs = this.delayFor(attempt);
      const deadline = options?.deadline;
      if (deadline !== undefined && this.clock.now() + delayMs >= deadline) return this.giveUp(last, attempt, "deadline");
      if (this.budget !== undefined && !this.budget.tryAcquireRetry()) {
        this.counts.budgetExhausted++;
        return this.giveUp(last, attempt, "budget");
      }
      if (!last.failed) discard(last.value);
      this.counts.retries++;
      if (this.onRetry.hasListeners) this.onRetry.emit({ name: this.name, attempt: attempt + 1, delayMs, error: last.failed ? last.error : last.value });
      last = null;
      await sleepUnlessAborted(this.clock, delayMs, signal);
    }
  }

  private succeeded<T>(value: T, attempts: number): T {
    if (attempts === 1) this.counts.successfulWithoutRetry++;
    else this.counts.successfulWithRetry++;
    return value;
  }

  /** Not retry's business: counted as a failed call, announced as ignored (never as giving up), re-thrown. */
  private ignored(error: unknown, attempts: number): never {
    if (attempts === 1) this.counts.failedWithoutRetry++;
    else this.counts.failedWithRetry++;
    if (this.onIgnoredError.hasListeners) this.onIgnoredError.emit({ name: this.name, attempts, error });
    throw error;
  }

  private giveUp<T>(last: Last<T>, attempts: number, reason: GiveUpEvent["reason"]): T {
    if (attempts === 1) this.counts.failedWithoutRetry++;
    else this.counts.failedWithRetry++;
    if (this.onGiveUp.hasListeners) this.onGiveUp.emit({ name: this.name, attempts, reason });
    if (last.failed) throw last.error;
    return last.value;
  }

}

/** A retried-over HTTP response still holds a connection until its body is released. */
function discard(value: unknown): void {
  if (value instanceof Response) {
    if (value.body !== null && !value.bodyUsed) void value.body.cancel().catch(() => {});
  } else if (isHttpResponse(value)) {
    (value as { cancel?(): void }).cancel?.();
  }
}
