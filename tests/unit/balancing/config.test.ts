import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { balancerOptionsFor, loadBalancerSchema, parseLoadBalancerConfig } from "../../../src/balancing/config.ts";

describe("load_balancer section", () => {
  test("the seed's example parses (and its defaults fill the rest)", () => {
    const config = parseLoadBalancerConfig({
      algorithm: "round_robin",
      health_check: { interval: "10s", timeout: "5s", healthy_threshold: 2, unhealthy_threshold: 3 },
      outlier_detection: { base_ejection_time: "500ms", max_ejection_time: "1.5m" },
      sticky_sessions: { enabled: true, cookie_name: "SERVERID" },
      backends: [
        { name: "process-service-1", weight: 100, max_connections: 1000 },
        { name: "process-service-2", weight: 100, max_connections: 1000 },
      ],
    });
    const o = balancerOptionsFor(config, "process-service");
    expect(o.algorithm).toBe("round_robin");
    expect(o.healthCheck).toEqual({ enabled: true, intervalMs: 10_000, timeoutMs: 5_000, healthyThreshold: 2, unhealthyThreshold: 3, path: "/health" });
    expect(o.sticky).toEqual({ enabled: true, cookieName: "SERVERID" });
    expect(o.outlier).toEqual({ enabled: true, consecutiveErrors: 5, baseEjectionTimeMs: 500, maxEjectionTimeMs: 90_000, maxEjectionPercent: 50 });
    expect(o.backends.get("process-service-1")).toEqual({ weight: 100, maxConnections: 1000 });
    expect(o.maxConnections).toBe(Infinity);
  });

  test("an empty or missing section means defaults", () => {
    expect(balancerOptionsFor(parseLoadBalancerConfig(undefined), "x").algorithm).toBe("round_robin");
    expect(balancerOptionsFor(undefined, "x").ewma).toEqual({ decayMs: 10_000, defaultRttMs: 30 });
  });

  test("per-service overrides merge field by field", () => {
    const config = parseLoadBalancerConfig({
      algorithm: "p2c_ewma",
      outlier_detection: { consecutive_errors: 3, base_ejection_time: "10s" },
      services: { "form-service": { algorithm: "least_connections", outlier_detection: { base_ejection_time: 1000 } } },
    });
    const form = balancerOptionsFor(config, "form-service");
    expect(form.algorithm).toBe("least_connections");
    expect(form.outlier.consecutiveErrors).toBe(3);
    expect(form.outlier.baseEjectionTimeMs).toBe(1_000);
    const task = balancerOptionsFor(config, "task-service");
    expect(task.algorithm).toBe("p2c_ewma");
    expect(task.outlier.baseEjectionTimeMs).toBe(10_000);
  });

  test.each([
    [{ algorithm: "fastest" }, "algorithm"],
    [{ health_check: { interval: "10 parsecs" } }, "health_check.interval"],
    [{ health_check: { healthy_treshold: 2 } }, "health_check.healthy_treshold"],
    [{ outlier_detection: { max_ejection_percent: 150 } }, "outlier_detection.max_ejection_percent"],
    [{ backends: [{ name: "a", weight: 0 }] }, "backends.0.weight"],
    [{ sticky_sessions: { cookie_name: "a b" } }, "sticky_sessions.cookie_name"],
  ])("bad input %j is reported at %s", (input, path) => {
    const result = v.safeParse(loadBalancerSchema, input);
    expect(result.success).toBe(false);
    expect(result.issues!.map((i) => v.getDotPath(i))).toContain(path);
  });
});
