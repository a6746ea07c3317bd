import { type Clock, type Random, systemClock, systemRandom } from "../core/clock.ts";
import { Bulkhead } from "./bulkhead.ts";
import { CircuitBreaker } from "./circuit-breaker.ts";
import {
  breakerConfigFor, bulkheadConfigFor, isConfigured, rateLimiterConfigFor, type Resilience4jConfig, retryConfigFor, timeLimiterConfigFor,
} from "./config.ts";
import { Pipeline } from "./pipeline.ts";
import { RateLimiter } from "./rate-limiter.ts";
import { Retry } from "./retry.ts";
import { RetryBudget } from "./retry-budget.ts";
import { TimeLimiter } from "./time-limiter.ts";
import { instanceName } from "./instance-name.ts";

export interface ResilienceRegistryOptions {
  clock?: Clock;
  random?: Random;
}

export { instanceName };

/**
 * One breaker / retry / retry budget / time limiter / bulkhead / rate limiter per downstream
 * name, created lazily from the `resilience4j` section and listable for /metrics and admin
 * transitions. Names are normalised with `instanceName`, so "task-service" is "taskService".
 */
export class ResilienceRegistry {
  readonly circuitBreakers = new Map<string, CircuitBreaker>();
  readonly retries = new Map<string, Retry>();
  readonly retryBudgets = new Map<string, RetryBudget>();
  readonly timeLimiters = new Map<string, TimeLimiter>();
  readonly bulkheads = new Map<string, Bulkhead>();
  readonly rateLimiters = new Map<string, RateLimiter>();
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly section: Resilience4jConfig | undefined;
  private readonly clock: Clock;
  private readonly random: Random;

  constructor(section?: Resilience4jConfig, options: ResilienceRegistryOptions = {}) {
    this.section = section;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
  }

  circuitBreaker(downstream: string): CircuitBreaker {
    const name = instanceName(downstream);
    return lazily(this.circuitBreakers, name, () => new CircuitBreaker({ ...breakerConfigFor(this.section, name), name, clock: this.clock }));
  }

  retryBudget(downstream: string): RetryBudget {
    const name = instanceName(downstream);
    return lazily(this.retryBudgets, name, () => new RetryBudget({ ...retryConfigFor(this.section, name), clock: this.clock }));
  }

  retry(downstream: string): Retry {
    const name = instanceName(downstream);
    return lazily(this.retries, name, () =>
      new Retry({ ...retryConfigFor(this.section, name), name, clock: this.clock, random: this.random, budget: this.retryBudget(name) }));
  }

  timeLimiter(downstream: string): TimeLimiter {
    const name = instanceName(downstream);
    return lazily(this.timeLimiters, name, () => {
      const config = timeLimiterConfigFor(this.section, name);
      // a consecutive breaker's `timeout` (seed 004) bounds each call too: the shorter one wins
      const breaker = breakerConfigFor(this.section, name);
      const timeoutDuration = breaker.type === "consecutive" ? Math.min(config.timeoutDuration, breaker.timeout) : config.timeoutDuration;
      return new TimeLimiter({ ...config, timeoutDuration, name, clock: this.clock });
    });
  }

  bulkhead(downstream: string): Bulkhead {
    const name = instanceName(downstream);
    return lazily(this.bulkheads, name, () => new Bulkhead({ ...bulkheadConfigFor(this.section, name), name, clock: this.clock }));
  }

  rateLimiter(name: string): RateLimiter {
    const key = instanceName(name);
    return lazily(this.rateLimiters, key, () => new RateLimiter({ ...rateLimiterConfigFor(this.section, key), name: key, clock: this.clock }));
  }

  /**
   * The pipeline for calls to `downstream`: retry, breaker and time limiter always; a bulkhead
   * and a client-side rate limiter only when the section configures them for it.
   */
  pipeline(downstream: string): Pipeline {
    const name = instanceName(downstream);
    return lazily(this.pipelines, name, () =>
      Pipeline.create({
        retry: this.retry(name),
        circuitBreaker: this.circuitBreaker(name),
        rateLimiter: isConfigured(this.section, "ratelimiter", name) ? this.rateLimiter(name) : undefined,
        timeLimiter: this.timeLimiter(name),
        bulkhead: isConfigured(this.section, "bulkhead", name) ? this.bulkhead(name) : undefined,
      }));
  }
}

function lazily<T>(map: Map<string, T>, name: string, create: () => T): T {
  let value = map.get(name);
  if (value === undefined) {
    value = create();
    map.set(name, value);
  }
  return value;
}
