import { type Clock, systemClock } from "../core/clock.ts";
import { RETRY_DEFAULTS, type RetryConfig } from "./config.ts";

export type RetryBudgetOptions = Partial<Pick<RetryConfig, "retryBudgetPercent" | "retryBudgetMinRetriesPerSecond" | "retryBudgetWindow">> & {
  clock?: Clock;
};

export interface RetryBudgetMetrics {
  requests: number;
  retries: number;
  /** Retries still allowed right now. */
  available: number;
  /** Retries refused because the budget was spent, since creation. */
  exhausted: number;
}

/**
 * Linkerd/Envoy-style retry budget shared by every caller of one downstream: retries within
 * the window may not exceed retryBudgetPercent of requests plus a floor of
 * retryBudgetMinRetriesPerSecond × window seconds. Per-second buckets, O(1) amortised.
 */
export class RetryBudget {
  private readonly clock: Clock;
  private readonly seconds: number;
  private readonly percent: number;
  private readonly floor: number;
  private readonly requestBuckets: Int32Array;
  private readonly retryBuckets: Int32Array;
  private headSecond = -Infinity;
  private requests = 0;
  private retries = 0;
  private exhausted = 0;

  constructor(options: RetryBudgetOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.seconds = Math.max(1, Math.round((options.retryBudgetWindow ?? RETRY_DEFAULTS.retryBudgetWindow) / 1000));
    this.percent = options.retryBudgetPercent ?? RETRY_DEFAULTS.retryBudgetPercent;
    this.floor = (options.retryBudgetMinRetriesPerSecond ?? RETRY_DEFAULTS.retryBudgetMinRetriesPerSecond) * this.seconds;
    this.requestBuckets = new Int32Array(this.seconds);
    this.retryBuckets = new Int32Array(this.seconds);
  }

  /** Deposits one original request (not a retry). */
  recordRequest(): void {
    this.requestBuckets[this.bucket()]!++;
    this.requests++;
  }

  /** Withdraws one retry if the budget allows; a refusal is counted as exhaustion. */
  tryAcquireRetry(): boolean {
    const i = this.bucket();
    if (this.retries >= this.allowed()) {
      this.exhausted++;
      return false;
    }
    this.retryBuckets[i]!++;
    this.retries++;
    return true;
  }

  metrics(): RetryBudgetMetrics {
    this.bucket();
    return { requests: this.requests, retries: this.retries, available: Math.max(0, this.allowed() - this.retries), exhausted: this.exhausted };
  }

  private allowed(): number {
    return Math.floor((this.requests * this.percent) / 100) + this.floor;
  }

  /** Index of the current second's bucket, clearing buckets that fell out of the window. */
  private bucket(): number {
    const second = Math.floor(this.clock.now() / 1000);
    if (second > this.headSecond) {
      if (second - this.headSecond >= this.seconds) {
        this.requestBuckets.fill(0);
        this.retryBuckets.fill(0);
        this.requests = 0;
        this.retries = 0;
      } else {
        for (let s = this.headSecond + 1; s <= second; s++) {
          const i = s % this.seconds;
          this.requests -= this.requestBuckets[i]!;
          this.retries -= this.retryBuckets[i]!;
          this.requestBuckets[i] = 0;
          this.retryBuckets[i] = 0;
        }
      }
      this.headSecond = second;
      return second % this.seconds;
    }
    return this.headSecond % this.seconds;
  }
}
