import type { Config } from "../config/schema.ts";
import type { Bulkhead } from "../resilience/bulkhead.ts";
import type { CircuitBreaker } from "../resilience/circuit-breaker.ts";
import { isConfigured } from "../resilience/config.ts";
import { BulkheadFullError, RateLimitedError } from "../resilience/errors.ts";
import type { RateLimiter } from "../resilience/rate-limiter.ts";
import { instanceName, type ResilienceRegistry } from "../resilience/registry.ts";
import type { Retry } from "../resilience/retry.ts";
import type { RetryBudget } from "../resilience/retry-budget.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { traceCircuitBreaker, traceRetry } from "../telemetry/resilience.ts";

/** The policies guarding calls to one downstream service (one breaker per service, as Resilience4j does). */
export interface DownstreamPolicies {
  name: string;
  /** Where each attempt's upstream instruments report (the process's registry, from main). */
  metrics: Metrics;
  breaker: CircuitBreaker;
  retry: Retry;
  budget: RetryBudget;
  /** Per-attempt limit on the response head (resilience4j.timelimiter). */
  timeoutMs: number;
  /** resilience4j.ratelimiter for this downstream, when configured: calls per period, all callers together. */
  rateLimiter: RateLimiter | undefined;
  /** resilience4j.bulkhead for this downstream, when configured: concurrent attempts at most. */
  bulkhead: Bulkhead | undefined;
}

/** The one key of a client-side limit (all calls to a downstream share it). */
const CLIENT_KEY = "*";

/**
 * The policies inside the breaker, in Resilience4j's order (rate limiter, then bulkhead),
 * without waiting: the refusal to throw, or undefined with a bulkhead slot taken (give it
 * back with `releaseLocal`). The gateway's hot path; allocates only when it refuses.
 */
export function admitLocal(p: DownstreamPolicies): Error | undefined {
  const rl = p.rateLimiter;
  if (rl !== undefined) {
    const d = rl.check(CLIENT_KEY);
    if (!d.allowed) return new RateLimitedError(`client-side rate limit of '${p.name}' reached`, d.retryAfterMs, d.limit);
  }
  const bh = p.bulkhead;
  if (bh !== undefined && !bh.tryAcquirePermission()) return new BulkheadFullError(bh.name, bh.config.maxConcurrentCalls);
  return undefined;
}

/** Gives back the bulkhead slot `admitLocal` took. */
export function releaseLocal(p: DownstreamPolicies): void {
  p.bulkhead?.releasePermission();
}

/** A transport's view of the ResilienceRegistry: the policies per downstream name, made on first use. */
export class Downstreams {
  private readonly byName = new Map<string, DownstreamPolicies>();

  constructor(
    private readonly section: Config["resilience4j"],
    readonly registry: ResilienceRegistry,
    readonly metrics: Metrics,
  ) {}

  get(name: string): DownstreamPolicies {
    let p = this.byName.get(name);
    if (p) return p;
    const r = this.registry;
    const key = instanceName(name);
    p = {
      name,
      metrics: this.metrics,
      breaker: r.circuitBreaker(name),
      retry: r.retry(name),
      budget: r.retryBudget(name),
      timeoutMs: r.timeLimiter(name).config.timeoutDuration,
      rateLimiter: isConfigured(this.section, "ratelimiter", key) ? r.rateLimiter(key) : undefined,
      bulkhead: isConfigured(this.section, "bulkhead", key) ? r.bulkhead(key) : undefined,
    };
    // breaker rejections and retries become events on the span of the call they happened in
    traceCircuitBreaker(p.breaker);
    traceRetry(p.retry);
    this.byName.set(name, p);
    return p;
  }

  all(): DownstreamPolicies[] {
    return [...this.byName.values()];
  }
}
