// The resilience toolkit: one policy a file; docs/resilience.md says which transport runs which.
export { Bulkhead, type BulkheadMetrics, type BulkheadOptions } from "./bulkhead.ts";
export {
  CircuitBreaker, type CallEvent, type CircuitBreakerMetrics, type CircuitBreakerOptions, type CircuitState, type ErrorEvent,
  type NotPermittedEvent, type StateTransitionEvent,
} from "./circuit-breaker.ts";
export * from "./config.ts";
export * from "./deadline.ts";
export { Emitter, type Listener } from "./emitter.ts";
export { BulkheadFullError, CallNotPermittedError, isLocalRejection, RateLimitedError, TimeoutError } from "./errors.ts";
export {
  defaultErrorClassifier, type ErrorClassifier, isFailedResponse, isIdempotentHttp, isRetryableError, isRetryableResponse, type Outcome,
  type ResultPredicate,
} from "./outcome.ts";
export { PIPELINE_ORDER, Pipeline, type PipelinePolicies } from "./pipeline.ts";
export { type CallOptions, NEVER_ABORTED, type Policy, wrap } from "./policy.ts";
export { type RateLimitDecision, RateLimiter, type RateLimiterMetrics, type RateLimiterOptions, rateLimitHeaders, writeRateLimitHeaders } from "./rate-limiter.ts";
export { instanceName, ResilienceRegistry, type ResilienceRegistryOptions } from "./registry.ts";
export { type GiveUpEvent, type IgnoredErrorEvent, Retry, type RetryEvent, type RetryMetrics, type RetryOptions } from "./retry.ts";
export { RetryBudget, type RetryBudgetMetrics, type RetryBudgetOptions } from "./retry-budget.ts";
export { registerResilienceMetrics } from "./prometheus.ts";
export { TimeLimiter, type TimeLimiterOptions, type TimeoutEvent } from "./time-limiter.ts";
