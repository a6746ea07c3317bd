import type { Config } from "../config/schema.ts";
import { CircuitBreaker } from "../resilience/circuit-breaker.ts";
import { breakerConfigFor, retryConfigFor, timeLimiterConfigFor } from "../resilience/config.ts";
import { Retry } from "../resilience/retry.ts";
import { RetryBudget } from "../resilience/retry-budget.ts";
import { isRetryableError } from "../resilience/outcome.ts";
import { NoHealthyInstanceError } from "./errors.ts";

/** Transient failures are retried; "no healthy instance" is a local verdict and is not. */
const retryOn = (e: unknown, s?: AbortSignal) => !(e instanceof NoHealthyInstanceError) && isRetryableError(e, s);

/** The policies guarding calls to one downstream service (one breaker per service, as Resilience4j does). */
export interface DownstreamPolicies {
  name: string;
  breaker: CircuitBreaker;
  retry: Retry;
  budget: RetryBudget;
  timeoutMs: number;
}

/** One set of policies per downstream name (processService, formService, taskService…), made on first use. */
export class Downstreams {
  private readonly byName = new Map<string, DownstreamPolicies>();

  constructor(private readonly section: Config["resilience4j"]) {}

  get(name: string): DownstreamPolicies {
    let p = this.byName.get(name);
    if (p) return p;
    const retryCfg = retryConfigFor(this.section, name);
    const budget = new RetryBudget(retryCfg);
    p = {
      name,
      breaker: new CircuitBreaker({ name, ...breakerConfigFor(this.section, name) }),
      budget,
      retry: new Retry({ name, ...retryCfg, budget, retryOn }),
      timeoutMs: timeLimiterConfigFor(this.section, name).timeoutDuration,
    };
    this.byName.set(name, p);
    return p;
  }

  all(): DownstreamPolicies[] {
    return [...this.byName.values()];
  }
}
