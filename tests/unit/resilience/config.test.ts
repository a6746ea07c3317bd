import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import {
  breakerConfigFor, bulkheadConfigFor, parseDurationMs, rateLimiterConfigFor, Resilience4jSchema, retryConfigFor, timeLimiterConfigFor,
} from "../../../src/resilience/config.ts";
import { ResilienceRegistry } from "../../../src/resilience/registry.ts";

/** The seed's §2.1 section with its indentation repaired (DESIGN.md: the seed YAML is mis-indented). */
const SEED_YAML = `
circuitbreaker:
  instances:
    processService:
      slidingWindowSize: 100
      minimumNumberOfCalls: 10
      failureRateThreshold: 50
      waitDurationInOpenState: 60000
      permittedNumberOfCallsInHalfOpenState: 10
    formService:
      slidingWindowSize: 50
      minimumNumberOfCalls: 5
      failureRateThreshold: 40
      waitDurationInOpenState: 30000
      permittedNumberOfCallsInHalfOpenState: 5
`;

function parse(input: unknown) {
  return v.safeParse(Resilience4jSchema, input);
}

function firstIssue(input: unknown): { path: string; message: string } {
  const result = parse(input);
  expect(result.success).toBe(false);
  const issue = result.issues![0];
  return { path: (issue.path ?? []).map((p) => String(p.key)).join("."), message: issue.message };
}

describe("resilience4j config", () => {
  test("the seed's breaker values load as given", () => {
    const section = v.parse(Resilience4jSchema, Bun.YAML.parse(SEED_YAML));
    expect(breakerConfigFor(section, "processService")).toMatchObject({
      slidingWindowSize: 100, minimumNumberOfCalls: 10, failureRateThreshold: 50, waitDurationInOpenState: 60_000, permittedNumberOfCallsInHalfOpenState: 10,
    });
    expect(breakerConfigFor(section, "formService")).toMatchObject({
      slidingWindowSize: 50, minimumNumberOfCalls: 5, failureRateThreshold: 40, waitDurationInOpenState: 30_000, permittedNumberOfCallsInHalfOpenState: 5,
    });
  });

  test("instances inherit configs.default (or their baseConfig) and override it key by key", () => {
    const section = v.parse(Resilience4jSchema, {
      circuitbreaker: {
        configs: { default: { failureRateThreshold: 30, waitDurationInOpenState: "10s" }, strict: { failureRateThreshold: 10 } },
        instances: { taskService: { waitDurationInOpenState: "1m" }, formService: { baseConfig: "strict" } },
      },
    });
    expect(breakerConfigFor(section, "taskService")).toMatchObject({ failureRateThreshold: 30, waitDurationInOpenState: 60_000, slidingWindowSize: 100 });
    expect(breakerConfigFor(section, "formService")).toMatchObject({ failureRateThreshold: 10, waitDurationInOpenState: 60_000 });
    expect(breakerConfigFor(section, "unknownService")).toMatchObject({ failureRateThreshold: 30, waitDurationInOpenState: 10_000 });
    expect(breakerConfigFor(undefined, "x").failureRateThreshold).toBe(50);
  });

  test("durations accept ms numbers and strings with units", () => {
    expect(["500ms", "60s", "1m", "1.5s", "2h", "250", 750].map(parseDurationMs)).toEqual([500, 60_000, 60_000, 1_500, 7_200_000, 250, 750]);
    const section = v.parse(Resilience4jSchema, { timelimiter: { instances: { taskService: { timeoutDuration: "2s" } } } });
    expect(timeLimiterConfigFor(section, "taskService").timeoutDuration).toBe(2_000);
  });

  test("a bad value is reported with its path and what was expected", () => {
    expect(firstIssue({ circuitbreaker: { instances: { processService: { failureRateThreshold: 150 } } } })).toEqual({
      path: "circuitbreaker.instances.processService.failureRateThreshold", message: "must be a number in 1..100",
    });
    expect(firstIssue({ circuitbreaker: { instances: { p: { failureRateThreshold: 0 } } } }).message).toBe("must be a number in 1..100");
    expect(firstIssue({ retry: { configs: { default: { backoffPeriod: "soon" } } } })).toMatchObject({
      path: "retry.configs.default.backoffPeriod", message: expect.stringContaining("must be a duration"),
    });
    expect(firstIssue({ circuitbreaker: { instances: { p: { slidingWindowType: "SOMETIMES" } } } }).message).toBe('must be "COUNT_BASED" or "TIME_BASED"');
    expect(firstIssue({ bulkhead: { instances: { p: { maxConcurrentCalls: 2.5 } } } }).message).toBe("must be an integer >= 1");
  });

  test("unknown keys (typos, the seed's mis-indentation) are refused, not ignored", () => {
    expect(firstIssue({ circuitbreaker: { instances: { p: { failureRateTreshold: 50 } } } }).path).toBe("circuitbreaker.instances.p.failureRateTreshold");
    expect(firstIssue({ instances: { processService: {} } }).path).toBe("instances");
  });

  test("a baseConfig must name an entry under configs", () => {
    expect(firstIssue({ retry: { instances: { taskService: { baseConfig: "nope" } } } })).toEqual({
      path: "retry.instances.taskService.baseConfig", message: 'baseConfig "nope" is not defined under retry.configs',
    });
  });

  test("retry accepts the seed's names and Resilience4j's aliases, but not both", () => {
    const section = v.parse(Resilience4jSchema, {
      retry: { instances: { a: { waitDuration: "200ms", exponentialBackoffMultiplier: 3, exponentialMaxWaitDuration: "5s" }, b: { backoffPeriod: 100 } } },
    });
    expect(retryConfigFor(section, "a")).toMatchObject({ backoffPeriod: 200, backoffMultiplier: 3, maxBackoffPeriod: 5_000 });
    expect(retryConfigFor(section, "b")).toMatchObject({ backoffPeriod: 100, backoffMultiplier: 2, retryBudgetPercent: 20 });
    expect(parse({ retry: { instances: { c: { waitDuration: 1, backoffPeriod: 2 } } } }).success).toBe(false);
  });

  test("defaults for bulkhead and the rate limiter (seed: 100 requests per 60 s)", () => {
    expect(bulkheadConfigFor(undefined, "x")).toEqual({ maxConcurrentCalls: 25, maxWaitDuration: 0, maxWaitingCalls: 100 });
    expect(rateLimiterConfigFor(undefined, "gateway")).toMatchObject({ limitForPeriod: 100, limitRefreshPeriod: 60_000 });
  });

  test("seed 004's breaker keys are a consecutive breaker's (its resetTimeout the open wait, its timeout the call's)", () => {
    const section = v.parse(Resilience4jSchema, {
      circuitbreaker: {
        configs: { default: { slidingWindowSize: 100, failureRateThreshold: 50 } },
        instances: { taskService: { type: "consecutive", failureThreshold: 5, successThreshold: 2, timeout: 10_000, resetTimeout: 30_000 } },
      },
      timelimiter: { configs: { default: { timeoutDuration: "20s" } } },
    });
    expect(breakerConfigFor(section, "taskService")).toMatchObject({
      type: "consecutive", failureThreshold: 5, successThreshold: 2, timeout: 10_000, waitDurationInOpenState: 30_000, permittedNumberOfCallsInHalfOpenState: 2,
    });
    expect(breakerConfigFor(section, "formService")).toMatchObject({ type: "failure_rate", slidingWindowSize: 100 });
    const registry = new ResilienceRegistry(section);
    expect(registry.timeLimiter("taskService").config.timeoutDuration).toBe(10_000);
    expect(registry.timeLimiter("formService").config.timeoutDuration).toBe(20_000);
  });

  test("a key of the other breaker type is refused, naming the type it is for", () => {
    expect(firstIssue({ circuitbreaker: { instances: { taskService: { failureThreshold: 5 } } } })).toEqual({
      path: "circuitbreaker.instances.taskService.failureThreshold", message: "is only for type: consecutive (this breaker is type: failure_rate)",
    });
    expect(firstIssue({ circuitbreaker: { instances: { taskService: { type: "consecutive", failureRateThreshold: 50 } } } })).toEqual({
      path: "circuitbreaker.instances.taskService.failureRateThreshold", message: "is only for type: failure_rate (this breaker is type: consecutive)",
    });
    // the type comes from the base config when the instance does not say
    const inherited = parse({ circuitbreaker: { configs: { seed: { type: "consecutive" } }, instances: { t: { baseConfig: "seed", failureThreshold: 3 } } } });
    expect(inherited.success).toBe(true);
    expect(firstIssue({ circuitbreaker: { instances: { t: { type: "consecutive", resetTimeout: 1, waitDurationInOpenState: 2 } } } }).message).toBe(
      "set resetTimeout or waitDurationInOpenState, not both",
    );
  });
});
