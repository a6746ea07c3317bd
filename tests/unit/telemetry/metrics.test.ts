import { describe, expect, test } from "bun:test";
import { BalancerEvents } from "../../../src/balancing/events.ts";
import { StaticRegistry } from "../../../src/discovery/static.ts";
import { FakeClock } from "../../../src/platform/clock.ts";
import { CircuitBreaker } from "../../../src/resilience/circuit-breaker.ts";
import { RateLimiter } from "../../../src/resilience/rate-limiter.ts";
import { Retry } from "../../../src/resilience/retry.ts";
import { RetryBudget } from "../../../src/resilience/retry-budget.ts";
import { observeRegistry, recordDiscoveryError } from "../../../src/telemetry/discovery.ts";
import { Metrics, statusClass } from "../../../src/telemetry/metrics.ts";
import { observeOutbox, recordOutboxDispatch } from "../../../src/telemetry/outbox.ts";
import { instrumentBalancerEvents, instrumentCircuitBreaker, instrumentRateLimiter, instrumentRetry, recordFallback } from "../../../src/telemetry/resilience.ts";

/** Samples of one metric family as "labels → value" after a scrape (collect callbacks run). */
async function samples(m: Metrics, name: string): Promise<Record<string, number>> {
  await m.text();
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const out: Record<string, number> = {};
  for (const v of (await metric.get()).values) {
    const key = Object.entries(v.labels)
      .map(([k, val]) => `${k}=${val}`)
      .join(",");
    out[`${(v as { metricName?: string }).metricName ?? name}{${key}}`] = v.value;
  }
  return out;
}

describe("resilience on /metrics", () => {
  test("breaker state is one series per state, transitions and rejections counted", async () => {
    const m = new Metrics();
    const clock = new FakeClock();
    const breaker = new CircuitBreaker({ name: "taskService", slidingWindowSize: 2, minimumNumberOfCalls: 2, waitDurationInOpenState: 1_000, clock });
    instrumentCircuitBreaker(breaker, m);
    expect(await samples(m, "bpm_circuit_breaker_state")).toMatchObject({ "bpm_circuit_breaker_state{name=taskService,state=CLOSED}": 1, "bpm_circuit_breaker_state{name=taskService,state=OPEN}": 0 });
    breaker.onResult(1, true);
    breaker.onResult(1, true);
    breaker.tryAcquirePermission();
    const state = await samples(m, "bpm_circuit_breaker_state");
    expect(state["bpm_circuit_breaker_state{name=taskService,state=OPEN}"]).toBe(1);
    expect(state["bpm_circuit_breaker_state{name=taskService,state=CLOSED}"]).toBe(0);
    expect(await samples(m, "bpm_circuit_breaker_transitions_total")).toEqual({ "bpm_circuit_breaker_transitions_total{name=taskService,from=CLOSED,to=OPEN}": 1 });
    expect(await samples(m, "bpm_circuit_breaker_rejected_calls_total")).toEqual({ "bpm_circuit_breaker_rejected_calls_total{name=taskService}": 1 });
  });

  test("retries, give-ups and retry-budget exhaustion are counted per downstream", async () => {
    const m = new Metrics();
    const clock = new FakeClock();
    // a budget with no floor and 0%: the first retry is refused
    const budget = new RetryBudget({ retryBudgetPercent: 0, retryBudgetMinRetriesPerSecond: 0, clock });
    const starved = new Retry({ name: "formService", maxAttempts: 3, backoffPeriod: 0, budget, clock, random: () => 0 });
    const plain = new Retry({ name: "taskService", maxAttempts: 2, backoffPeriod: 0, clock, random: () => 0 });
    instrumentRetry(starved, m);
    instrumentRetry(plain, m);
    const fail = async () => new Response(null, { status: 503 });
    await starved.execute(fail);
    await plain.execute(fail);
    expect(await samples(m, "bpm_retries_total")).toEqual({ "bpm_retries_total{name=taskService}": 1 });
    expect(await samples(m, "bpm_retry_budget_exhausted_total")).toEqual({ "bpm_retry_budget_exhausted_total{name=formService}": 1 });
    expect(await samples(m, "bpm_retry_give_ups_total")).toEqual({
      "bpm_retry_give_ups_total{name=formService,reason=budget}": 1,
      "bpm_retry_give_ups_total{name=taskService,reason=maxAttempts}": 1,
    });
  });

  test("rate-limit rejections are counted per limiter, never per client key", async () => {
    const m = new Metrics();
    const limiter = new RateLimiter({ name: "gateway", limitForPeriod: 1, limitRefreshPeriod: 60_000, clock: new FakeClock() });
    instrumentRateLimiter(limiter, m);
    for (const key of ["ip:1", "ip:1", "ip:2", "ip:2", "ip:3"]) limiter.check(key);
    expect(await samples(m, "bpm_rate_limit_rejections_total")).toEqual({ "bpm_rate_limit_rejections_total{name=gateway}": 2 });
  });

  test("ejections, skipped ejections and fallbacks are counted by service", async () => {
    const m = new Metrics();
    const events = new BalancerEvents();
    instrumentBalancerEvents(events, m);
    events.ejected.emit({ service: "task-service", instanceId: "a", untilMs: 1, ejections: 1, consecutiveFailures: 5 });
    events.ejectionSkipped.emit({ service: "task-service", instanceId: "b", ejectedNow: 1, maxEjected: 1 });
    events.healthChanged.emit({ service: "task-service", instanceId: "b", healthy: false });
    recordFallback("taskService", "cache", {}, m);
    expect(await samples(m, "bpm_outlier_ejections_total")).toEqual({ "bpm_outlier_ejections_total{service=task-service}": 1 });
    expect(await samples(m, "bpm_outlier_ejections_skipped_total")).toEqual({ "bpm_outlier_ejections_skipped_total{service=task-service}": 1 });
    expect(await samples(m, "bpm_upstream_health_transitions_total")).toEqual({ "bpm_upstream_health_transitions_total{service=task-service,healthy=false}": 1 });
    expect(await samples(m, "bpm_fallbacks_total")).toEqual({ "bpm_fallbacks_total{name=taskService,source=cache}": 1 });
  });
});

describe("upstream instances", () => {
  test("in-flight rises and falls per instance; latency is observed by outcome", async () => {
    const m = new Metrics();
    const a = m.upstream("task-service", "task-service-h-8082");
    expect(m.upstream("task-service", "task-service-h-8082")).toBe(a);
    a.begin();
    a.begin();
    expect((await samples(m, "bpm_upstream_requests_in_flight"))["bpm_upstream_requests_in_flight{service=task-service,instance_id=task-service-h-8082}"]).toBe(2);
    a.end(0.004, statusClass(200));
    a.end(0.2, "timeout");
    const s = await samples(m, "bpm_upstream_request_duration_seconds");
    expect(s["bpm_upstream_request_duration_seconds_count{service=task-service,instance_id=task-service-h-8082,outcome=2xx}"]).toBe(1);
    expect(s["bpm_upstream_request_duration_seconds_count{service=task-service,instance_id=task-service-h-8082,outcome=timeout}"]).toBe(1);
    expect((await samples(m, "bpm_upstream_requests_in_flight"))["bpm_upstream_requests_in_flight{service=task-service,instance_id=task-service-h-8082}"]).toBe(0);
  });

  test("an instance that left discovery can be forgotten, so churn does not grow /metrics", async () => {
    const m = new Metrics();
    const gone = m.upstream("task-service", "old");
    gone.begin();
    gone.end(0.01, "5xx");
    m.forgetUpstream("task-service", "old");
    const text = await m.text();
    expect(text).not.toContain('instance_id="old"');
  });

  test("status classes are the only HTTP outcome labels", () => {
    expect([200, 201, 304, 404, 429, 503, 0, 999].map(statusClass)).toEqual(["2xx", "2xx", "3xx", "4xx", "4xx", "5xx", "error", "error"]);
  });
});

describe("discovery and outbox are read at scrape time", () => {
  test("instance counts per service, discovery health and Consul errors", async () => {
    const m = new Metrics();
    const registry = new StaticRegistry({
      "task-service": [
        { id: "t1", service: "task-service", address: "127.0.0.1", port: 1, weight: 100, tags: [], meta: {} },
        { id: "t2", service: "task-service", address: "127.0.0.1", port: 2, weight: 100, tags: [], meta: {} },
      ],
    });
    observeRegistry(registry, ["task-service", "form-service"], m);
    recordDiscoveryError("consul", "health_service", m);
    expect(await samples(m, "bpm_discovery_instances")).toEqual({ "bpm_discovery_instances{service=task-service}": 2, "bpm_discovery_instances{service=form-service}": 0 });
    expect(await samples(m, "bpm_discovery_up")).toEqual({ "bpm_discovery_up{}": 1 });
    registry.set("form-service", [{ id: "f1", service: "form-service", address: "127.0.0.1", port: 3, weight: 100, tags: [], meta: {} }]);
    expect((await samples(m, "bpm_discovery_instances"))["bpm_discovery_instances{service=form-service}"]).toBe(1);
    expect(await samples(m, "bpm_discovery_errors_total")).toEqual({ "bpm_discovery_errors_total{source=consul,operation=health_service}": 1 });
  });

  test("outbox backlog and the age of its oldest record; a failing store drops the samples, not the scrape", async () => {
    const m = new Metrics();
    let stats: () => Promise<{ pending: number; oldestCreatedAtMs?: number }> = async () => ({ pending: 3, oldestCreatedAtMs: Date.now() - 90_000 });
    observeOutbox("process-service", () => stats(), m);
    recordOutboxDispatch("process-service", "delivered", m);
    const s = await samples(m, "bpm_outbox_oldest_pending_age_seconds");
    expect(s["bpm_outbox_oldest_pending_age_seconds{role=process-service}"]).toBeGreaterThanOrEqual(90);
    expect(s["bpm_outbox_oldest_pending_age_seconds{role=process-service}"]).toBeLessThan(95);
    expect(await samples(m, "bpm_outbox_pending_records")).toEqual({ "bpm_outbox_pending_records{role=process-service}": 3 });
    stats = async () => ({ pending: 0 });
    expect(await samples(m, "bpm_outbox_oldest_pending_age_seconds")).toEqual({ "bpm_outbox_oldest_pending_age_seconds{role=process-service}": 0 });
    stats = async () => {
      throw new Error("database is locked");
    };
    const text = await m.text();
    expect(text).not.toContain("bpm_outbox_pending_records{");
    expect(text).toContain('bpm_outbox_dispatched_total{role="process-service",outcome="delivered"} 1');
  });
});
