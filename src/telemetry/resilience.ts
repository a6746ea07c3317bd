import type { BalancerEvents } from "../balancing/events.ts";
import type { Bulkhead } from "../resilience/bulkhead.ts";
import type { CircuitBreaker } from "../resilience/circuit-breaker.ts";
import type { RateLimiter } from "../resilience/rate-limiter.ts";
import type { Retry } from "../resilience/retry.ts";
import { processMetrics, type Metrics } from "./metrics.ts";
import { errorTypeOf, recordEvent } from "./tracing.ts";

// Policies emit synchronously inside the call they decide on, so the active span at emit
// time is the request or attempt concerned: the event lands exactly where it happened.

/** Breaker state on /metrics, transitions and rejections counted, `breaker.rejected` / `breaker.state_change` span events. Returns an unsubscribe. */
export function instrumentCircuitBreaker(breaker: CircuitBreaker, metrics: Metrics = processMetrics()): () => void {
  const name = breaker.name;
  metrics.watchBreakerState(name, () => breaker.state);
  const offTransition = breaker.onStateTransition.on((e) => {
    metrics.breakerTransitions.labels(name, e.from, e.to).inc();
    recordEvent("breaker.state_change", { "breaker.name": name, "breaker.from": e.from, "breaker.to": e.to, "breaker.reason": e.reason });
  });
  const offRejected = breaker.onCallNotPermitted.on((e) => {
    metrics.breakerRejected.labels(name).inc();
    recordEvent("breaker.rejected", { "breaker.name": name, "breaker.state": e.state });
  });
  return () => {
    offTransition();
    offRejected();
  };
}

/** Retries and give-ups counted (budget exhaustion on its own), `retry` / `retry.give_up` span events. */
export function instrumentRetry(retry: Retry, metrics: Metrics = processMetrics()): () => void {
  const name = retry.name;
  const offRetry = retry.onRetry.on((e) => {
    metrics.retries.labels(name).inc();
    recordEvent("retry", { "retry.policy": name, "retry.attempt": e.attempt, "retry.delay_ms": Math.round(e.delayMs), "retry.cause": causeOf(e.error) });
  });
  const offGiveUp = retry.onGiveUp.on((e) => {
    metrics.retryGiveUps.labels(name, e.reason).inc();
    if (e.reason === "budget") metrics.retryBudgetExhausted.labels(name).inc();
    recordEvent("retry.give_up", { "retry.policy": name, "retry.attempts": e.attempts, "retry.reason": e.reason });
  });
  return () => {
    offRetry();
    offGiveUp();
  };
}

/** Rate-limit rejections counted per limiter (never per key: keys are clients), `rate_limit.rejected` span event. */
export function instrumentRateLimiter(limiter: RateLimiter, metrics: Metrics = processMetrics()): () => void {
  const name = limiter.name;
  return limiter.onRejected.on((e) => {
    metrics.rateLimitRejections.labels(name).inc();
    recordEvent("rate_limit.rejected", { "rate_limit.name": name, "rate_limit.retry_after_ms": e.retryAfterMs });
  });
}

/** Bulkhead rejections counted, `bulkhead.rejected` span event. */
export function instrumentBulkhead(bulkhead: Bulkhead, metrics: Metrics = processMetrics()): () => void {
  const name = bulkhead.name;
  return bulkhead.onRejected.on(() => {
    metrics.bulkheadRejections.labels(name).inc();
    recordEvent("bulkhead.rejected", { "bulkhead.name": name });
  });
}

/** Outlier ejections and health verdicts counted per service, `upstream.ejected` / `upstream.returned` span events. */
export function instrumentBalancerEvents(events: BalancerEvents, metrics: Metrics = processMetrics()): () => void {
  const offs = [
    events.ejected.on((e) => {
      metrics.outlierEjections.labels(e.service).inc();
      recordEvent("upstream.ejected", {
        "upstream.service": e.service,
        "upstream.instance_id": e.instanceId,
        "upstream.ejections": e.ejections,
        "upstream.consecutive_failures": e.consecutiveFailures,
        "upstream.ejected_until_ms": e.untilMs,
      });
    }),
    events.ejectionSkipped.on((e) => {
      metrics.outlierEjectionsSkipped.labels(e.service).inc();
      recordEvent("upstream.ejection_skipped", { "upstream.service": e.service, "upstream.instance_id": e.instanceId, "upstream.ejected_now": e.ejectedNow });
    }),
    events.returned.on((e) => recordEvent("upstream.returned", { "upstream.service": e.service, "upstream.instance_id": e.instanceId })),
    events.healthChanged.on((e) => metrics.upstreamHealthTransitions.labels(e.service, String(e.healthy)).inc()),
  ];
  return () => {
    for (const off of offs) off();
  };
}

/** A response served by a fallback (cache or default) instead of the live call: counted, and a `fallback` span event. */
export function recordFallback(name: string, source: "cache" | "default", attributes: { ageMs?: number; cause?: unknown } = {}, metrics: Metrics = processMetrics()): void {
  metrics.fallbacks.labels(name, source).inc();
  recordEvent("fallback", {
    "fallback.name": name,
    "fallback.source": source,
    ...(attributes.ageMs !== undefined ? { "fallback.age_ms": Math.round(attributes.ageMs) } : {}),
    ...(attributes.cause !== undefined ? { "fallback.cause": causeOf(attributes.cause) } : {}),
  });
}

/** A failed attempt as a short label: the HTTP status of a failed response, else the error's code or class. */
function causeOf(error: unknown): string {
  if (error instanceof Response) return String(error.status);
  return errorTypeOf(error);
}
