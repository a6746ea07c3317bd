import { describe, expect, test } from "bun:test";
import { deepMerge, parseYaml, UsageError, validateConfig } from "../../../src/config/loader.ts";
import { withoutReplacedBreakers } from "../../../src/resilience/config.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const DEFAULTS = parseYaml(readFileSync(join(import.meta.dir, "../../../config/default.yaml"), "utf8"), "default.yaml");

function errorOf(over: unknown): string {
  try {
    validateConfig(deepMerge(withoutReplacedBreakers(DEFAULTS, over), over));
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error("config was accepted");
}

describe("resilience config errors name the key and say what is allowed", () => {
  test("seed 004's breaker keys load as a consecutive breaker over the default config", () => {
    const over = { resilience4j: { circuitbreaker: { instances: { taskService: { type: "consecutive", failureThreshold: 5, successThreshold: 2, timeout: 10_000, resetTimeout: 30_000 } } } } };
    const config = validateConfig(deepMerge(withoutReplacedBreakers(DEFAULTS, over), over));
    expect(config.resilience4j.circuitbreaker?.instances?.["taskService"]).toEqual({ type: "consecutive", failureThreshold: 5, successThreshold: 2, timeout: 10_000, resetTimeout: 30_000 });
    // the default's other instances stay as they were
    expect(config.resilience4j.circuitbreaker?.instances?.["formService"]?.failureRateThreshold).toBe(40);
  });

  test("a consecutive key on a failure-rate breaker", () => {
    expect(errorOf({ resilience4j: { circuitbreaker: { instances: { taskService: { failureThreshold: 5 } } } } })).toBe(
      "config: resilience4j.circuitbreaker.instances.taskService.failureThreshold is only for type: consecutive (this breaker is type: failure_rate), got 5",
    );
  });

  test("an unknown key says it is unknown", () => {
    expect(errorOf({ resilience4j: { circuitbreaker: { instances: { taskService: { failureTreshold: 5 } } } } })).toBe(
      "config: resilience4j.circuitbreaker.instances.taskService.failureTreshold is not a known key, got 5",
    );
  });
});
