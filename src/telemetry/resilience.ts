import type { BalancerEvents } from "../balancing/events.ts";
import type { Bulkhead } from "../resilience/bulkhead.ts";
import type { CircuitBreaker } from "../resilience/circuit-breaker.ts";
import type { RateLimiter } from "../resilience/rate-limiter.ts";
import type { ResilienceRegistry } from "../resilience/registry.ts";
import type { Retry } from "../resilience/retry.ts";
import type { Metrics } from "./metrics.ts";
import { errorTypeOf, recordEvent, tracingEnabled } from "./tracing.ts";

// Policies emit synchronously inside the call they decide on, so the active span at emit
// time is the request or attempt concerned: the event lands exactly where it happened.
// Their counters come from src/resilience/prometheus.ts (Metrics.registerResilience); these
// functions add only the span events, and may be called more than once per policy.

const traced = new WeakSet<object>();
/** Subscribes a policy once, and only while tracing is on: off, the policies stay listener-free. */
const once = (policy: object): boolean => {
  if (!tracingEnabled || traced.has(policy)) return false;
  traced.add(policy);
  return true;
};

/** `breaker.rejected` and `breaker.state_change` span events. */
export function traceCircuitBreaker(breaker: CircuitBreaker): void {
  if (!once(breaker)) return;
  const name = breaker.name;
  breaker.onStateTransition.on((e) => recordEvent("breaker.state_change", { "breaker.name": name, "breaker.from": e.from, "breaker.to": e.to, "breaker.reason": e.reason }));
  breaker.onCallNotPermitted.on((e) => recordEvent("breaker.rejected", { "breaker.name": name, "breaker.state": e.state }));
}

/** `retry` (before each retry, with the cause) and `retry.give_up` (with the reason, e.g. budget) span events. */
export function traceRetry(retry: Retry): void {
  if (!once(retry)) return;
  const name = retry.name;
  retry.onRetry.on((e) =>
    recordEvent("retry", { "retry.policy": name, "retry.attempt": e.attempt, "retry.delay_ms": Math.round(e.delayMs), "retry.cause": causeOf(e.error) }),
  );
  retry.onGiveUp.on((e) => recordEvent("retry.give_up", { "retry.policy": name, "retry.attempts": e.attempts, "retry.reason": e.reason }));
}

/** `rate_limit.rejected` span event (the client key stays out of traces). */
export function traceRateLimiter(limiter: Pick<RateLimiter, "name" | "onRejected">): void {
  if (!once(limiter)) return;
  const name = limiter.name;
  limiter.onRejected.on((e) => recordEvent("rate_limit.rejected", { "rate_limit.name": name, "rate_limit.retry_after_ms": e.retryAfterMs }));
}

/** `bulkhead.rejected` span event. */
export function traceBulkhead(bulkhead: Bulkhead): void {
  if (!once(bulkhead)) return;
  const name = bulkhead.name;
  bulkhead.onRejected.on(() => recordEvent("bulkhead.rejected", { "bulkhead.name": name }));
}

/** Span events for every policy a ResilienceRegistry has made so far (call again after adding downstreams). */
export function traceResilience(resilience: ResilienceRegistry): void {
  for (const b of resilience.circuitBreakers.values()) traceCircuitBreaker(b);
  for (const r of resilience.retries.values()) traceRetry(r);
  for (const l of resilience.rateLimiters.values()) traceRateLimiter(l);
  for (const b of resilience.bulkheads.values()) traceBulkhead(b);
}

const instrumented = new WeakSet<BalancerEvents>();

/** Outlier ejections and health verdicts counted per service, `upstream.ejected` / `upstream.returned` span events. */
export function instrumentBalancerEvents(events: BalancerEvents, metrics: Metrics): void {
  if (instrumented.has(events)) return;
  instrumented.add(events);
  events.ejected.on((e) => {
    metrics.outlierEjections.labels(e.service).inc();
    recordEvent("upstream.ejected", {
      "upstream.service": e.service,
      "upstream.instance_id": e.instanceId,
      "upstream.ejections": e.ejections,
      "upstream.consecutive_failures": e.consecutiveFailures,
      "upstream.ejected_until_ms": e.untilMs,
    });
  });
  events.ejectionSkipped.on((e) => {
    metrics.outlierEjectionsSkipped.labels(e.service).inc();
    recordEvent("upstream.ejection_skipped", { "upstream.service": e.service, "upstream.instance_id": e.instanceId, "upstream.ejected_now": e.ejectedNow });
  });
  events.returned.on((e) => recordEvent("upstream.returned", { "upstream.service": e.service, "upstream.instance_id": e.instanceId }));
  events.healthChanged.on((e) => metrics.upstreamHealthTransitions.labels(e.service, String(e.healthy)).inc());
}

/** A response served by a fallback (cache or default) instead of the live call: counted, and a `fallback` span event. */
export function recordFallback(name: string, source: "cache" | "default", attributes: { ageMs?: number; cause?: unknown } = {}, metrics: Metrics): void {
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
