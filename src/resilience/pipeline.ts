import { type CallOptions, type Policy, wrap } from "./policy.ts";

/** The policies a pipeline may hold, each optional. */
export interface PipelinePolicies {
  retry?: Policy | undefined;
  circuitBreaker?: Policy | undefined;
  rateLimiter?: Policy | undefined;
  timeLimiter?: Policy | undefined;
  bulkhead?: Policy | undefined;
}

/**
 * Outermost first: Retry(CircuitBreaker(RateLimiter(TimeLimiter(Bulkhead(call))))), Resilience4j's
 * order. Each retry passes the breaker; timeouts count as breaker failures; the timeout also
 * bounds the wait for a bulkhead slot. docs/resilience.md explains the order.
 */
export const PIPELINE_ORDER = ["retry", "circuitBreaker", "rateLimiter", "timeLimiter", "bulkhead"] as const satisfies readonly (keyof PipelinePolicies)[];

/** The one way outbound calls are composed, for HTTP and gRPC alike. */
export class Pipeline implements Policy {
  readonly policies: Readonly<PipelinePolicies>;
  private readonly composed: Policy;

  private constructor(policies: PipelinePolicies) {
    this.policies = Object.freeze({ ...policies });
    const ordered: Policy[] = [];
    for (const key of PIPELINE_ORDER) {
      const policy = policies[key];
      if (policy !== undefined) ordered.push(policy);
    }
    this.composed = wrap(...ordered);
  }

  static create(policies: PipelinePolicies): Pipeline {
    return new Pipeline(policies);
  }

  execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal, options?: CallOptions): Promise<T> {
    return this.composed.execute(fn, signal, options);
  }
}
