import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { Registry } from "prom-client";
import { FakeClock } from "../../../src/platform/clock.ts";
import { UnavailableError } from "../../../src/platform/errors.ts";
import { Bulkhead } from "../../../src/resilience/bulkhead.ts";
import { Resilience4jSchema } from "../../../src/resilience/config.ts";
import { registerResilienceMetrics } from "../../../src/resilience/prometheus.ts";
import { instanceName, ResilienceRegistry } from "../../../src/resilience/registry.ts";
import { outcome } from "./helpers.ts";

const section = v.parse(Resilience4jSchema, {
  circuitbreaker: {
    configs: { default: { slidingWindowSize: 2, minimumNumberOfCalls: 2 } },
    instances: { processService: { slidingWindowSize: 100, minimumNumberOfCalls: 10, failureRateThreshold: 50, waitDurationInOpenState: 60_000 } },
  },
  retry: { configs: { default: { maxAttempts: 1 } } },
  bulkhead: { instances: { formService: { maxConcurrentCalls: 4 } } },
});

describe("resilience registry", () => {
  test("one breaker per downstream, created on first use, under role or config name alike", () => {
    const reg = new ResilienceRegistry(section, { clock: new FakeClock() });
    expect(reg.circuitBreakers.size).toBe(0);
    const a = reg.circuitBreaker("process-service");
    expect(reg.circuitBreaker("processService")).toBe(a);
    expect(a.name).toBe("processService");
    expect(a.config.minimumNumberOfCalls).toBe(10);
    expect(reg.circuitBreaker("taskService").config.minimumNumberOfCalls).toBe(2);
    expect([...reg.circuitBreakers.keys()]).toEqual(["processService", "taskService"]);
    expect(instanceName("task-service")).toBe("taskService");
  });

  test("a downstream's retries share one budget", () => {
    const reg = new ResilienceRegistry(section);
    expect(reg.retry("taskService").budget).toBe(reg.retryBudget("task-service"));
  });

  test("a pipeline has a bulkhead only where one is configured", () => {
    const reg = new ResilienceRegistry(section);
    expect(reg.pipeline("formService").policies.bulkhead).toBeInstanceOf(Bulkhead);
    expect(reg.pipeline("taskService").policies.bulkhead).toBeUndefined();
    expect(reg.pipeline("taskService")).toBe(reg.pipeline("task-service"));
  });

  test("an operator can list breakers and force one open", async () => {
    const reg = new ResilienceRegistry(section);
    const pipeline = reg.pipeline("taskService");
    for (const cb of reg.circuitBreakers.values()) cb.transitionToForcedOpenState();
    const r = await outcome(pipeline.execute(() => Promise.resolve("never")));
    expect((r as { error: { code: string } }).error.code).toBe("CIRCUIT_OPEN");
  });
});

describe("prometheus exposition", () => {
  test("breaker state, transitions, rejections, retries and budget exhaustion appear on /metrics", async () => {
    const clock = new FakeClock();
    const reg = new ResilienceRegistry(section, { clock });
    const prom = new Registry();
    registerResilienceMetrics(prom, reg);
    const pipeline = reg.pipeline("taskService");
    for (let i = 0; i < 3; i++) await outcome(pipeline.execute(() => Promise.reject(new UnavailableError("down"))));
    const text = await prom.metrics();
    expect(text).toContain('bpm_circuitbreaker_state{name="taskService",state="OPEN"} 1');
    expect(text).toContain('bpm_circuitbreaker_state{name="taskService",state="CLOSED"} 0');
    expect(text).toContain('bpm_circuitbreaker_transitions_total{name="taskService",from="CLOSED",to="OPEN"} 1');
    expect(text).toContain('bpm_circuitbreaker_not_permitted_calls_total{name="taskService"} 1');
    expect(text).toContain('bpm_circuitbreaker_failure_rate_ratio{name="taskService"} 1');
    expect(text).toContain('bpm_retry_calls_total{name="taskService",kind="failed_without_retry"} 3');
    expect(text).toContain('bpm_retry_budget_exhausted_total{name="taskService"} 0');
    // Scraping twice does not double counters.
    expect(await prom.metrics()).toContain('bpm_circuitbreaker_not_permitted_calls_total{name="taskService"} 1');
  });
});
