import type { Config } from "../config/schema.ts";
import type { CircuitBreaker } from "../resilience/circuit-breaker.ts";
import { ResilienceRegistry } from "../resilience/registry.ts";
import type { Retry } from "../resilience/retry.ts";
import type { RetryBudget } from "../resilience/retry-budget.ts";
import { traceCircuitBreaker, traceRetry } from "../telemetry/resilience.ts";

/** The policies guarding calls to one downstream service (one breaker per service, as Resilience4j does). */
export interface DownstreamPolicies {
  name: string;
  breaker: CircuitBreaker;
  retry: Retry;
  budget: RetryBudget;
  /** Per-attempt limit on the response head (resilience4j.timelimiter). */
  timeoutMs: number;
}

/** A transport's view of the ResilienceRegistry: the policies per downstream name, made on first use. */
export class Downstreams {
  readonly registry: ResilienceRegistry;
  private readonly byName = new Map<string, DownstreamPolicies>();

  constructor(section: Config["resilience4j"], registry?: ResilienceRegistry) {
    this.registry = registry ?? processResilience(section);
  }

  get(name: string): DownstreamPolicies {
    let p = this.byName.get(name);
    if (p) return p;
    const r = this.registry;
    p = { name, breaker: r.circuitBreaker(name), retry: r.retry(name), budget: r.retryBudget(name), timeoutMs: r.timeLimiter(name).config.timeoutDuration };
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

let shared: ResilienceRegistry | undefined;
/** One registry per process: roles sharing a process share breakers by name (and one /metrics export). */
export function processResilience(section: Config["resilience4j"]): ResilienceRegistry {
  return (shared ??= new ResilienceRegistry(section));
}
