import type { Random } from "../core/clock.ts";
import { systemRandom } from "../core/clock.ts";
import { Retry } from "../resilience/retry.ts";

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  random?: Random;
}

/**
 * Waits between failed Consul calls: the shared retry policy's capped exponential schedule with
 * equal jitter, so a fleet that lost Consul together does not come back in lockstep, and no wait
 * is shorter than half its step (full jitter could hammer a recovering agent with near-zero waits).
 */
export class Backoff {
  private readonly schedule: Retry;
  private count = 0;

  constructor(options: BackoffOptions) {
    this.schedule = new Retry({
      name: "consul",
      backoffPeriod: options.initialMs,
      backoffMultiplier: 2,
      maxBackoffPeriod: options.maxMs,
      jitter: "equal",
      random: options.random ?? systemRandom,
    });
  }

  /** Failures since the last success. */
  get failures(): number {
    return this.count;
  }

  /** Records one more failure and returns how long to wait before trying again. */
  next(): number {
    this.count++;
    return this.schedule.delayFor(this.count);
  }

  reset(): void {
    this.count = 0;
  }
}
