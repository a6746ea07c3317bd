import { type Clock, systemClock } from "../platform/clock.ts";
import { RATE_LIMITER_DEFAULTS, type RateLimiterConfig } from "./config.ts";
import { Emitter } from "./emitter.ts";
import { RateLimitedError } from "./errors.ts";
import { type CallOptions, invoke, NEVER_ABORTED, type Policy, sleepUnlessAborted } from "./policy.ts";

export interface RateLimiterOptions extends Partial<RateLimiterConfig> {
  name?: string;
  clock?: Clock;
  /** The key `execute` uses (a client-side limit on one downstream has a single bucket). */
  key?: string;
}

/** Everything a RateLimit-* / Retry-After header needs. */
export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Ms until the bucket is full again. */
  resetMs: number;
  /** Ms until the next request would be allowed (0 when allowed). */
  retryAfterMs: number;
}

export interface RateLimiterMetrics {
  trackedKeys: number;
  allowed: number;
  rejected: number;
  /** Keys dropped while still holding tokens because maxKeys was reached. */
  evictedActive: number;
}

/** Oldest keys examined per new key; each idle one found is dropped. */
const SWEEP_PER_INSERT = 2;

/**
 * Token bucket per key (capacity limitForPeriod, refilled continuously at limitForPeriod per
 * limitRefreshPeriod) as GCRA: one number per key, exact integer arithmetic, O(1) per check.
 * A key whose bucket is full again is indistinguishable from an absent one, so idle keys are
 * dropped freely; maxKeys caps memory whatever the number of clients.
 */
export class RateLimiter implements Policy {
  readonly name: string;
  readonly config: Readonly<RateLimiterConfig>;
  readonly onRejected = new Emitter<{ name: string; key: string; retryAfterMs: number }>();
  private readonly clock: Clock;
  private readonly policyKey: string;
  /** Theoretical arrival time per key, in units of (ms × limitForPeriod) since `origin`. */
  private readonly tat = new Map<string, number>();
  /**
   * Every tracked key once, oldest first, in a ring: sweeping a Map from its head would walk
   * the tombstones of deleted entries and turn each insert into O(n).
   */
  private readonly ring: (string | undefined)[];
  private ringHead = 0;
  private ringCount = 0;
  private readonly origin: number;
  private readonly emissionInterval: number;
  private readonly capacity: number;
  private allowedCount = 0;
  private rejectedCount = 0;
  private evictedActive = 0;

  constructor(options: RateLimiterOptions = {}) {
    const { name, clock, key, ...config } = options;
    this.name = name ?? "default";
    this.clock = clock ?? systemClock;
    this.policyKey = key ?? "*";
    this.config = Object.freeze({
      limitForPeriod: config.limitForPeriod ?? RATE_LIMITER_DEFAULTS.limitForPeriod,
      limitRefreshPeriod: config.limitRefreshPeriod ?? RATE_LIMITER_DEFAULTS.limitRefreshPeriod,
      timeoutDuration: config.timeoutDuration ?? RATE_LIMITER_DEFAULTS.timeoutDuration,
      maxKeys: config.maxKeys ?? RATE_LIMITER_DEFAULTS.maxKeys,
    });
    // One request costs limitRefreshPeriod units and one ms refills limitForPeriod units.
    this.emissionInterval = Math.round(this.config.limitRefreshPeriod);
    this.capacity = this.emissionInterval * this.config.limitForPeriod;
    this.origin = this.clock.now();
    this.ring = new Array<string | undefined>(this.config.maxKeys);
  }

  /** Takes one token for `key` if there is one. */
  check(key: string): RateLimitDecision {
    const limit = this.config.limitForPeriod;
    const now = Math.floor(this.clock.now() - this.origin) * limit;
    const known = this.tat.get(key);
    const start = known === undefined || known < now ? now : known;
    const debt = start - now;
    const after = debt + this.emissionInterval;
    if (after > this.capacity) {
      this.rejectedCount++;
      const retryAfterMs = Math.ceil((after - this.capacity) / limit);
      if (this.onRejected.hasListeners) this.onRejected.emit({ name: this.name, key, retryAfterMs });
      return { allowed: false, limit, remaining: 0, resetMs: Math.ceil(debt / limit), retryAfterMs };
    }
    if (known === undefined) {
      this.makeRoom(now);
      this.pushKey(key);
    }
    this.tat.set(key, start + this.emissionInterval);
    this.allowedCount++;
    return {
      allowed: true,
      limit,
      remaining: Math.floor((this.capacity - after) / this.emissionInterval),
      resetMs: Math.ceil(after / limit),
      retryAfterMs: 0,
    };
  }

  metrics(): RateLimiterMetrics {
    return { trackedKeys: this.tat.size, allowed: this.allowedCount, rejected: this.rejectedCount, evictedActive: this.evictedActive };
  }

  /** Client-side limit on one downstream: waits up to timeoutDuration (and the deadline) for a token. */
  async execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal = NEVER_ABORTED, options?: CallOptions): Promise<T> {
    const waitUntil = Math.min(this.clock.now() + this.config.timeoutDuration, options?.deadline ?? Number.POSITIVE_INFINITY);
    for (;;) {
      const decision = this.check(this.policyKey);
      if (decision.allowed) return invoke(fn, signal);
      if (this.clock.now() + decision.retryAfterMs > waitUntil) {
        throw new RateLimitedError(`rate limit of '${this.name}' reached`, decision.retryAfterMs, decision.limit);
      }
      await sleepUnlessAborted(this.clock, decision.retryAfterMs, signal);
    }
  }

  /** Second-chance sweep over the oldest keys (idle ones go, busy ones move to the back), then a hard cap. */
  private makeRoom(now: number): void {
    for (let i = 0; i < SWEEP_PER_INSERT && this.ringCount > 0; i++) {
      const key = this.shiftKey();
      if (this.tat.get(key)! > now) this.pushKey(key);
      else this.tat.delete(key);
    }
    if (this.tat.size >= this.config.maxKeys) {
      this.tat.delete(this.shiftKey());
      this.evictedActive++;
    }
  }

  private pushKey(key: string): void {
    this.ring[(this.ringHead + this.ringCount) % this.ring.length] = key;
    this.ringCount++;
  }

  private shiftKey(): string {
    const key = this.ring[this.ringHead]!;
    this.ring[this.ringHead] = undefined;
    this.ringHead = this.ringHead + 1 === this.ring.length ? 0 : this.ringHead + 1;
    this.ringCount--;
    return key;
  }

}

/** IETF RateLimit header fields (seconds, rounded up) plus Retry-After when refused. */
export function rateLimitHeaders(decision: RateLimitDecision): Record<string, string> {
  const headers: Record<string, string> = {};
  writeRateLimitHeaders(decision, { set: (name, value) => void (headers[name] = value) });
  return headers;
}

/** Sets the same fields on a response's headers (a Headers, or the raw front's flat fields), lower-case names. */
export function writeRateLimitHeaders(decision: RateLimitDecision, headers: { set(name: string, value: string): void }): void {
  headers.set("ratelimit-limit", String(decision.limit));
  headers.set("ratelimit-remaining", String(decision.remaining));
  headers.set("ratelimit-reset", String(Math.ceil(decision.resetMs / 1000)));
  if (!decision.allowed) headers.set("retry-after", String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))));
}
