import { describe, expect, test } from "bun:test";
import { BalancerEvents } from "../../../src/balancing/events.ts";
import { StaticRegistry } from "../../../src/discovery/static.ts";
import { FakeClock } from "../../../src/platform/clock.ts";
import { observeRegistry, recordDiscoveryError } from "../../../src/telemetry/discovery.ts";
import { grpcOutcome, Metrics, statusClass } from "../../../src/telemetry/metrics.ts";
import { observeOutbox, recordOutboxDispatch } from "../../../src/telemetry/outbox.ts";
import { instrumentBalancerEvents, recordFallback } from "../../../src/telemetry/resilience.ts";
import { ResilienceRegistry } from "../../../src/resilience/registry.ts";

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
  test("the resilience policies' own collectors are exposed once per process", async () => {
    const m = new Metrics();
    const resilience = new ResilienceRegistry(undefined, { clock: new FakeClock() });
    const breaker = resilience.circuitBreaker("task-service");
    m.registerResilience(resilience);
    m.registerResilience(resilience);
    breaker.transitionToForcedOpenState();
    const state = await samples(m, "bpm_circuitbreaker_state");
    expect(state["bpm_circuitbreaker_state{name=taskService,state=FORCED_OPEN}"]).toBe(1);
    expect(state["bpm_circuitbreaker_state{name=taskService,state=CLOSED}"]).toBe(0);
    expect(await samples(m, "bpm_circuitbreaker_transitions_total")).toEqual({ "bpm_circuitbreaker_transitions_total{name=taskService,from=CLOSED,to=FORCED_OPEN}": 1 });
    // a second registry would expose a second breaker under the same name: refused
    expect(() => m.registerResilience(new ResilienceRegistry())).toThrow("one ResilienceRegistry per process");
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

  test("outcome labels stay a handful: HTTP status classes, gRPC ok/timeout/cancelled/error", () => {
    expect([200, 201, 304, 404, 429, 503, 0, 999].map(statusClass)).toEqual(["2xx", "2xx", "3xx", "4xx", "4xx", "5xx", "error", "error"]);
    expect([0, 1, 4, 5, 13, 14].map(grpcOutcome)).toEqual(["ok", "cancelled", "timeout", "error", "error", "error"]);
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
