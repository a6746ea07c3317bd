import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../../src/platform/clock.ts";
import { UnavailableError } from "../../../src/platform/errors.ts";
import { Bulkhead } from "../../../src/resilience/bulkhead.ts";
import { CircuitBreaker } from "../../../src/resilience/circuit-breaker.ts";
import { BulkheadFullError, CallNotPermittedError, TimeoutError } from "../../../src/resilience/errors.ts";
import { PIPELINE_ORDER, Pipeline } from "../../../src/resilience/pipeline.ts";
import { type Policy, wrap } from "../../../src/resilience/policy.ts";
import { Retry } from "../../../src/resilience/retry.ts";
import { TimeLimiter } from "../../../src/resilience/time-limiter.ts";
import { flush, outcome, pending } from "./helpers.ts";

function stack(clock: FakeClock, { maxConcurrentCalls = 10 } = {}) {
  const circuitBreaker = new CircuitBreaker({ name: "taskService", clock, slidingWindowSize: 2, minimumNumberOfCalls: 2 });
  const retry = new Retry({ clock, maxAttempts: 3, backoffPeriod: 0 });
  const timeLimiter = new TimeLimiter({ clock, timeoutDuration: 1_000 });
  const bulkhead = new Bulkhead({ clock, maxConcurrentCalls });
  return { circuitBreaker, retry, timeLimiter, bulkhead, pipeline: Pipeline.create({ bulkhead, timeLimiter, circuitBreaker, retry }) };
}

describe("pipeline", () => {
  test("the order is Retry(CircuitBreaker(RateLimiter(TimeLimiter(Bulkhead(call)))))", async () => {
    expect(PIPELINE_ORDER).toEqual(["retry", "circuitBreaker", "rateLimiter", "timeLimiter", "bulkhead"]);
    const seen: string[] = [];
    const tracer = (name: string): Policy => ({
      execute(fn, signal) {
        seen.push(name);
        return fn(signal!);
      },
    });
    const p = Pipeline.create({
      bulkhead: tracer("bulkhead"), timeLimiter: tracer("timeLimiter"), rateLimiter: tracer("rateLimiter"), circuitBreaker: tracer("circuitBreaker"), retry: tracer("retry"),
    });
    await p.execute(() => Promise.resolve(1));
    expect(seen).toEqual(["retry", "circuitBreaker", "rateLimiter", "timeLimiter", "bulkhead"]);
  });

  test("every retry goes through the breaker, and an opened breaker stops the retries", async () => {
    const clock = new FakeClock();
    const { pipeline, circuitBreaker } = stack(clock);
    let calls = 0;
    const r = await outcome(pipeline.execute(() => { calls++; return Promise.reject(new UnavailableError("down")); }));
    expect(calls).toBe(2); // the 2nd failure opened the breaker; the 3rd attempt was refused
    expect((r as { error: unknown }).error).toBeInstanceOf(CallNotPermittedError);
    expect(circuitBreaker.state).toBe("OPEN");
  });

  test("a timeout aborts the call and counts as a breaker failure", async () => {
    const clock = new FakeClock();
    const { pipeline, circuitBreaker } = stack(clock);
    const call = pending();
    const r = outcome(pipeline.execute(call.fn, undefined, { idempotent: false }));
    await flush();
    clock.advance(1_000);
    expect((await r as { error: unknown }).error).toBeInstanceOf(TimeoutError);
    expect(call.signal!.aborted).toBe(true);
    expect(circuitBreaker.metrics().failed).toBe(1);
  });

  test("the caller's deadline bounds the whole call, retries included", async () => {
    const clock = new FakeClock();
    const { pipeline } = stack(clock);
    const attempts: ReturnType<typeof pending>[] = [];
    const r = outcome(pipeline.execute((signal) => {
      const c = pending();
      attempts.push(c);
      return c.fn(signal);
    }, undefined, { deadline: clock.now() + 300 }));
    await flush();
    clock.advance(300);
    const error = (await r as { error: TimeoutError }).error;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.reason).toBe("deadline");
    expect(attempts).toHaveLength(1); // no retry once the deadline has passed
  });

  test("a full bulkhead is neither retried nor held against the downstream", async () => {
    const clock = new FakeClock();
    const { pipeline, circuitBreaker } = stack(clock, { maxConcurrentCalls: 1 });
    void pipeline.execute(pending().fn);
    await flush();
    let calls = 0;
    const r = await outcome(pipeline.execute(() => { calls++; return Promise.resolve("x"); }));
    expect((r as { error: unknown }).error).toBeInstanceOf(BulkheadFullError);
    expect(calls).toBe(0);
    expect(circuitBreaker.metrics()).toMatchObject({ failed: 0, buffered: 0, ignoredTotal: 1 });
  });

  test("wrap composes any policies outermost first and passes the signal down", async () => {
    const order: string[] = [];
    const named = (name: string): Policy => ({
      async execute(fn, signal) {
        order.push(`>${name}`);
        try { return await fn(signal!); } finally { order.push(`<${name}`); }
      },
    });
    const caller = new AbortController();
    let received: AbortSignal | undefined;
    await wrap(named("a"), named("b")).execute(async (s) => { received = s; return 1; }, caller.signal);
    expect(order).toEqual([">a", ">b", "<b", "<a"]);
    expect(received).toBe(caller.signal);
  });
});
