import { type Clock, systemClock } from "../platform/clock.ts";
import { defaultErrorClassifier, isFailedResponse, type ResultPredicate } from "./outcome.ts";
import { NEVER_ABORTED } from "./policy.ts";

/** Where a value came from; HTTP maps cache/default to `X-Fallback: cache|default`. */
export type FallbackSource = "live" | "cache" | "default";

export interface FallbackResult<T> {
  value: T;
  source: FallbackSource;
  /** Age of a cached value in ms (0 for live and default values). */
  ageMs: number;
  /** The failure that caused the fallback, for logs. */
  error?: unknown;
}

export interface FallbackOptions<T> {
  /** Remember the last good result per key (seed §3 shouldCache). */
  shouldCache?: boolean;
  /** How long a remembered result may be served, in ms (seed §3 cacheTimeout). */
  cacheTimeout?: number;
  /** Keys remembered at most; the least recently written go first. */
  maxEntries?: number;
  /** Computes a substitute when no fresh cached value exists. */
  fallback?: (error: unknown, key: string) => T | Promise<T>;
  /** The substitute when there is neither a cached value nor a fallback function. */
  defaultResponse?: T;
  /** Which errors fall back; default: failures and local rejections, not 4xx nor the caller's abort. */
  handles?: (error: unknown, callerSignal?: AbortSignal) => boolean;
  /** Marks a returned value as failed, so it falls back too (default: a Response with status >= 500). */
  failedResult?: ResultPredicate | null;
  clock?: Clock;
}

interface Entry<T> { value: T; storedAt: number }

const defaultHandles = (error: unknown, callerSignal?: AbortSignal) =>
  !(callerSignal?.aborted ?? false) && defaultErrorClassifier(error, callerSignal) !== "success";

/** A failed result travels as an error so live failures and thrown ones take one path. */
class FailedResult {
  constructor(readonly value: unknown) {}
}

/**
 * Seed §3's fallback: on failure serve the key's last good result if younger than
 * cacheTimeout, else the fallback function's or defaultResponse; the result says which.
 */
export class Fallback<T> {
  private readonly cache = new Map<string, Entry<T>>();
  private readonly clock: Clock;
  private readonly options: FallbackOptions<T>;
  private readonly handles: (error: unknown, callerSignal?: AbortSignal) => boolean;
  private readonly failedResult: ResultPredicate | null;
  private served = { live: 0, cache: 0, default: 0 };

  constructor(options: FallbackOptions<T> = {}) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.handles = options.handles ?? defaultHandles;
    this.failedResult = options.failedResult === undefined ? isFailedResponse : options.failedResult;
  }

  metrics(): { cachedKeys: number; servedLive: number; servedFromCache: number; servedDefault: number } {
    return { cachedKeys: this.cache.size, servedLive: this.served.live, servedFromCache: this.served.cache, servedDefault: this.served.default };
  }

  async execute(key: string, fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal = NEVER_ABORTED): Promise<FallbackResult<T>> {
    let error: unknown;
    try {
      const value = await fn(signal);
      if (this.failedResult === null || !this.failedResult(value)) {
        if (this.options.shouldCache === true) this.remember(key, value);
        this.served.live++;
        return { value, source: "live", ageMs: 0 };
      }
      error = new FailedResult(value);
    } catch (thrown) {
      if (!this.handles(thrown, signal)) throw thrown;
      error = thrown;
    }
    const cached = this.fresh(key);
    if (cached !== undefined) {
      this.served.cache++;
      return { value: cached.value, source: "cache", ageMs: this.clock.now() - cached.storedAt, error: reported(error) };
    }
    if (this.options.fallback !== undefined) {
      const value = await this.options.fallback(reported(error), key);
      this.served.default++;
      return { value, source: "default", ageMs: 0, error: reported(error) };
    }
    if ("defaultResponse" in this.options) {
      this.served.default++;
      return { value: this.options.defaultResponse as T, source: "default", ageMs: 0, error: reported(error) };
    }
    if (error instanceof FailedResult) {
      this.served.live++;
      return { value: error.value as T, source: "live", ageMs: 0 };
    }
    throw error;
  }

  /** The cached value for `key` if still within cacheTimeout (an entry exactly cacheTimeout old is still served). */
  private fresh(key: string): Entry<T> | undefined {
    const entry = this.cache.get(key);
    if (entry === undefined) return undefined;
    if (this.clock.now() - entry.storedAt > (this.options.cacheTimeout ?? 0)) {
      this.cache.delete(key);
      return undefined;
    }
    return entry;
  }

  private remember(key: string, value: T): void {
    this.cache.delete(key); // re-insert at the end: Map order is write order
    this.cache.set(key, { value, storedAt: this.clock.now() });
    const max = this.options.maxEntries ?? 10_000;
    while (this.cache.size > max) this.cache.delete(this.cache.keys().next().value as string);
  }
}

function reported(error: unknown): unknown {
  return error instanceof FailedResult ? error.value : error;
}
