import { type Clock, systemClock } from "../core/clock.ts";
import { RATE_LIMITER_DEFAULTS, type RateLimiterConfig } from "./config.ts";
import { Emitter } from "./emitter.ts";
import { RateLimitedError } from "./errors.ts";
import { type CallOptions, invoke, NEVER_ABORTED, type Policy, sleepUnlessAborted } from "./policy.ts";
import { type KeyState, type RateAlgorithm, type RateAlgorithmName, rateAlgorithm, type RateLimitDecision } from "./rate-algorithms/index.ts";

export interface RateLimiterOptions extends Partial<RateLimiterConfig> {
  name?: string;
  clock?: Clock;
  /** The key `execute` uses (a client-side limit on one downstream has a single bucket). */
  key?: string;
  /** How requests are counted (default: a fixed window from the key's first request, as Resilience4j and the seed). */
  algorithm?: RateAlgorithmName;
}

export type { RateLimitDecision };

export interface RateLimiterMetrics {
  trackedKeys: number;
  allowed: number;
  rejected: number;
  /** Keys dropped while still holding state because maxKeys was reached. */
  evictedActive: number;
}

/** Oldest keys examined per new key; each idle one found is dropped. */
const SWEEP_PER_INSERT = 2;

/**
 * `limitForPeriod` requests per `limitRefreshPeriod` per key, counted by one of the
 * algorithms in ./rate-algorithms (fixed window, sliding window, GCRA). A key whose state is
 * the same as a fresh one's is dropped freely; maxKeys caps memory whatever the number of
 * clients. A known key's check allocates only its decision.
 */
export class RateLimiter implements Policy {
  readonly name: string;
  readonly config: Readonly<RateLimiterConfig>;
  readonly algorithmName: RateAlgorithmName;
  readonly onRejected = new Emitter<{ name: string; key: string; retryAfterMs: number }>();
  private readonly clock: Clock;
  private readonly policyKey: string;
  private readonly algorithm: RateAlgorithm;
  private readonly states = new Map<string, KeyState>();
  /**
   * Every tracked key once, oldest first, in a ring: sweeping a Map from its head would walk
   * the tombstones of deleted entries and turn each insert into O(n).
   */
  private readonly ring: (string | undefined)[];
  private ringHead = 0;
  private ringCount = 0;
  private readonly origin: number;
  private allowedCount = 0;
  private rejectedCount = 0;
  private evictedActive = 0;

  constructor(options: RateLimiterOptions = {}) {
    const { name, clock, key, algorithm, ...config } = options;
    this.name = name ?? "default";
    this.clock = clock ?? systemClock;
    this.policyKey = key ?? "*";
    this.config = Object.freeze({
      limitForPeriod: config.limitForPeriod ?? RATE_LIMITER_DEFAULTS.limitForPeriod,
      limitRefreshPeriod: config.limitRefreshPeriod ?? RATE_LIMITER_DEFAULTS.limitRefreshPeriod,
      timeoutDuration: config.timeoutDuration ?? RATE_LIMITER_DEFAULTS.timeoutDuration,
      maxKeys: config.maxKeys ?? RATE_LIMITER_DEFAULTS.maxKeys,
    });
    this.algorithmName = algorithm ?? "fixed_window";
    this.algorithm = rateAlgorithm(this.algorithmName, this.config.limitForPeriod, Math.max(1, Math.round(this.config.limitRefreshPeriod)));
    this.origin = this.clock.now();
    this.ring = new Array<string | undefined>(this.config.maxKeys);
  }

  /** Takes one request for `key` if its rule allows. */
  check(key: string): RateLimitDecision {
    const now = Math.floor(this.clock.now() - this.origin);
    let state = this.states.get(key);
    if (state === undefined) {
      this.makeRoom(now);
      state = { a: 0, b: 0, c: 0 };
      this.algorithm.init(state, now);
      this.states.set(key, state);
      this.pushKey(key);
    }
    const decision = this.algorithm.take(state, now);
    if (decision.allowed) {
      this.allowedCount++;
    } else {
      this.rejectedCount++;
      if (this.onRejected.hasListeners) this.onRejected.emit({ name: this.name, key, retryAfterMs: decision.retryAfterMs });
    }
    return decision;
  }

  metrics(): RateLimiterMetrics {
    return { trackedKeys: this.states.size, allowed: this.allowedCount, rejected: this.rejectedCount, evictedActive: this.evictedActive };
  }

  /** Client-side limit on one downstream: waits up to timeoutDuration (and the deadline) for a permit. */
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
      if (this.algorithm.idleAt(this.states.get(key)!) > now) this.pushKey(key);
      else this.states.delete(key);
    }
    if (this.states.size >= this.config.maxKeys) {
      this.states.delete(this.shiftKey());
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

/** IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers, seconds rounded up) plus Retry-After when refused. */
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
  headers.set("ratelimit-policy", `${decision.limit};w=${Math.ceil(decision.windowMs / 1000)}`);
  if (!decision.allowed) headers.set("retry-after", String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))));
}
