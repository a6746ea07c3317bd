import { Counter, Gauge, type Registry } from "prom-client";
import type { CircuitState } from "./circuit-breaker.ts";
import type { ResilienceRegistry } from "./registry.ts";

const STATES: readonly CircuitState[] = ["CLOSED", "OPEN", "HALF_OPEN", "DISABLED", "FORCED_OPEN"];

/**
 * Registers collectors that read the policies' snapshots at scrape time, so the state
 * machines never touch prom-client. Labels: `name` is the downstream (bounded by config).
 */
export function registerResilienceMetrics(promRegistry: Registry, resilience: ResilienceRegistry, prefix = "bpm_"): void {
  const registers = [promRegistry];

  new Gauge({
    name: `${prefix}circuitbreaker_state`, help: "1 for the breaker's current state, 0 for the others", labelNames: ["name", "state"], registers,
    collect() {
      this.reset();
      for (const [name, cb] of resilience.circuitBreakers) {
        const current = cb.state;
        for (const state of STATES) this.set({ name, state }, state === current ? 1 : 0);
      }
    },
  });
  new Counter({
    name: `${prefix}circuitbreaker_transitions_total`, help: "State transitions of the breaker", labelNames: ["name", "from", "to"], registers,
    collect() {
      this.reset();
      for (const [name, cb] of resilience.circuitBreakers) {
        for (const [edge, count] of Object.entries(cb.metrics().transitions)) {
          const [from, to] = edge.split("->");
          this.inc({ name, from, to }, count);
        }
      }
    },
  });
  new Counter({
    name: `${prefix}circuitbreaker_not_permitted_calls_total`, help: "Calls the breaker rejected", labelNames: ["name"], registers,
    collect() {
      this.reset();
      for (const [name, cb] of resilience.circuitBreakers) this.inc({ name }, cb.metrics().notPermitted);
    },
  });
  new Counter({
    name: `${prefix}circuitbreaker_calls_total`, help: "Calls the breaker recorded, by outcome", labelNames: ["name", "kind"], registers,
    collect() {
      this.reset();
      for (const [name, cb] of resilience.circuitBreakers) {
        const m = cb.metrics();
        this.inc({ name, kind: "successful" }, m.successfulTotal);
        this.inc({ name, kind: "failed" }, m.failedTotal);
        this.inc({ name, kind: "ignored" }, m.ignoredTotal);
      }
    },
  });
  new Gauge({
    name: `${prefix}circuitbreaker_failure_rate_ratio`, help: "Failed share of the sliding window (absent until minimumNumberOfCalls)", labelNames: ["name"], registers,
    collect() {
      this.reset();
      for (const [name, cb] of resilience.circuitBreakers) {
        const rate = cb.metrics().failureRate;
        if (rate >= 0) this.set({ name }, rate / 100);
      }
    },
  });
  new Gauge({
    name: `${prefix}circuitbreaker_slow_call_rate_ratio`, help: "Slow share of the sliding window (absent until minimumNumberOfCalls)", labelNames: ["name"], registers,
    collect() {
      this.reset();
      for (const [name, cb] of resilience.circuitBreakers) {
        const rate = cb.metrics().slowCallRate;
        if (rate >= 0) this.set({ name }, rate / 100);
      }
    },
  });
  new Gauge({
    name: `${prefix}circuitbreaker_buffered_calls`, help: "Calls in the sliding window (or HALF_OPEN trials)", labelNames: ["name"], registers,
    collect() {
      this.reset();
      for (const [name, cb] of resilience.circuitBreakers) this.set({ name }, cb.metrics().buffered);
    },
  });
  new Counter({
    name: `${prefix}retry_calls_total`, help: "Calls through the retry policy, by outcome", labelNames: ["name", "kind"], registers,
    collect() {
      this.reset();
      for (const [name, retry] of resilience.retries) {
        const m = retry.metrics();
        this.inc({ name, kind: "successful_without_retry" }, m.successfulWithoutRetry);
        this.inc({ name, kind: "successful_with_retry" }, m.successfulWithRetry);
        this.inc({ name, kind: "failed_without_retry" }, m.failedWithoutRetry);
        this.inc({ name, kind: "failed_with_retry" }, m.failedWithRetry);
      }
    },
  });
  new Counter({
    name: `${prefix}retry_retries_total`, help: "Retries made (attempts after the first)", labelNames: ["name"], registers,
    collect() {
      this.reset();
      for (const [name, retry] of resilience.retries) this.inc({ name }, retry.metrics().retries);
    },
  });
  new Counter({
    name: `${prefix}retry_budget_exhausted_total`, help: "Retries refused because the downstream's retry budget was spent", labelNames: ["name"], registers,
    collect() {
      this.reset();
      for (const [name, budget] of resilience.retryBudgets) this.inc({ name }, budget.metrics().exhausted);
    },
  });
  new Counter({
    name: `${prefix}timelimiter_timeouts_total`, help: "Calls that ran out of time (timeout or deadline)", labelNames: ["name"], registers,
    collect() {
      this.reset();
      for (const [name, tl] of resilience.timeLimiters) this.inc({ name }, tl.metrics().timeouts);
    },
  });
  new Counter({
    name: `${prefix}bulkhead_rejected_calls_total`, help: "Calls the bulkhead rejected", labelNames: ["name"], registers,
    collect() {
      this.reset();
      for (const [name, bh] of resilience.bulkheads) this.inc({ name }, bh.metrics().rejected);
    },
  });
  new Gauge({
    name: `${prefix}bulkhead_available_concurrent_calls`, help: "Free bulkhead slots", labelNames: ["name"], registers,
    collect() {
      this.reset();
      for (const [name, bh] of resilience.bulkheads) this.set({ name }, bh.metrics().availableConcurrentCalls);
    },
  });
  new Counter({
    name: `${prefix}ratelimiter_rejected_requests_total`, help: "Requests the rate limiter refused", labelNames: ["name"], registers,
    collect() {
      this.reset();
      for (const [name, rl] of resilience.rateLimiters) this.inc({ name }, rl.metrics().rejected);
    },
  });
  new Gauge({
    name: `${prefix}ratelimiter_tracked_keys`, help: "Clients the rate limiter currently tracks", labelNames: ["name"], registers,
    collect() {
      this.reset();
      for (const [name, rl] of resilience.rateLimiters) this.set({ name }, rl.metrics().trackedKeys);
    },
  });
}
