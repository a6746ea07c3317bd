import { describe, expect, test } from "bun:test";
import { Metadata, status as GrpcStatus } from "@grpc/grpc-js";
import { FakeClock } from "../../../src/platform/clock.ts";
import { NotFoundError, ValidationError } from "../../../src/platform/errors.ts";
import { CircuitBreaker, type CircuitBreakerOptions, type StateTransitionEvent } from "../../../src/resilience/circuit-breaker.ts";
import { CallNotPermittedError } from "../../../src/resilience/errors.ts";
import { fail, flush, ok, outcome, pending } from "./helpers.ts";

function breaker(options: CircuitBreakerOptions = {}) {
  const clock = new FakeClock();
  const cb = new CircuitBreaker({
    name: "taskService",
    clock,
    slidingWindowSize: 10,
    minimumNumberOfCalls: 10,
    failureRateThreshold: 50,
    waitDurationInOpenState: 60_000,
    permittedNumberOfCallsInHalfOpenState: 3,
    ...options,
  });
  return { cb, clock };
}

async function run(cb: CircuitBreaker, failures: number, successes: number, signal?: AbortSignal) {
  for (let i = 0; i < failures; i++) await outcome(cb.execute(fail, signal));
  for (let i = 0; i < successes; i++) await outcome(cb.execute(ok, signal));
}

function grpcError(code: GrpcStatus) {
  return Object.assign(new Error(`${code}`), { code, details: "", metadata: new Metadata() });
}

async function openBreaker(cb: CircuitBreaker) {
  await run(cb, 10, 0);
  expect(cb.state).toBe("OPEN");
}

describe("circuit breaker: opening", () => {
  // Calls without a signal take a closure-free fast path; both paths must obey the same rules.
  for (const [label, signal] of [["no signal", undefined], ["a caller signal", new AbortController().signal]] as const) {
    test(`opens when exactly failureRateThreshold (50%) of 10 calls fail (${label})`, async () => {
      const { cb } = breaker();
      await run(cb, 5, 4, signal);
      expect(cb.state).toBe("CLOSED");
      await run(cb, 0, 1, signal);
      expect(cb.state).toBe("OPEN");
      expect(cb.metrics().failureRate).toBe(50);
    });

    test(`stays closed just below the threshold, 4 of 10 (${label})`, async () => {
      const { cb } = breaker();
      await run(cb, 4, 6, signal);
      expect(cb.state).toBe("CLOSED");
      expect(cb.metrics().failureRate).toBe(40);
    });
  }

  test("does not open before minimumNumberOfCalls, even at 100% failures", async () => {
    const { cb } = breaker({ slidingWindowSize: 100, minimumNumberOfCalls: 10 });
    await run(cb, 9, 0);
    expect(cb.state).toBe("CLOSED");
    expect(cb.metrics().failureRate).toBe(-1);
    await run(cb, 1, 0);
    expect(cb.state).toBe("OPEN");
  });

  test("a count window forgets the oldest call", async () => {
    const { cb } = breaker({ slidingWindowSize: 4, minimumNumberOfCalls: 4, failureRateThreshold: 75 });
    await run(cb, 1, 4); // F S S S S → the F fell out
    expect(cb.metrics()).toMatchObject({ buffered: 4, failed: 0 });
    await run(cb, 2, 0); // S S F F = 50%
    expect(cb.state).toBe("CLOSED");
    await run(cb, 1, 0); // S F F F = 75%
    expect(cb.state).toBe("OPEN");
  });

  test("minimumNumberOfCalls above a count window's size is capped at the size", async () => {
    const { cb } = breaker({ slidingWindowSize: 5, minimumNumberOfCalls: 50 });
    await run(cb, 5, 0);
    expect(cb.state).toBe("OPEN");
  });

  test("a time window drops calls older than slidingWindowSize seconds", async () => {
    const { cb, clock } = breaker({ slidingWindowType: "TIME_BASED", slidingWindowSize: 10, minimumNumberOfCalls: 4 });
    await run(cb, 3, 0); // at second 0
    clock.advance(9_000); // second 9: still inside the 10 s window
    expect(cb.metrics().buffered).toBe(3);
    clock.advance(1_000); // second 10: second 0's bucket has expired
    expect(cb.metrics().buffered).toBe(0);
    await run(cb, 1, 0);
    expect(cb.state).toBe("CLOSED");
    expect(cb.metrics()).toMatchObject({ buffered: 1, failed: 1 });
  });

  test("a time window opens when its live buckets cross the threshold", async () => {
    const { cb, clock } = breaker({ slidingWindowType: "TIME_BASED", slidingWindowSize: 10, minimumNumberOfCalls: 4 });
    await run(cb, 2, 0);
    clock.advance(5_000);
    await run(cb, 0, 1);
    clock.advance(4_999);
    await run(cb, 1, 0);
    expect(cb.state).toBe("OPEN");
  });

  test("opens on slow calls when slowCallRateThreshold is reached", async () => {
    const { cb, clock } = breaker({ slowCallRateThreshold: 50, slowCallDurationThreshold: 1_000, minimumNumberOfCalls: 4, slidingWindowSize: 4 });
    for (let i = 0; i < 4; i++) {
      const call = pending();
      const result = cb.execute(call.fn);
      clock.advance(i < 2 ? 1_001 : 1_000); // exactly at the threshold is not slow
      call.resolve("late but fine");
      await result;
    }
    expect(cb.state).toBe("OPEN");
    expect(cb.metrics()).toMatchObject({ slow: 2, failed: 0 });
  });
});

describe("circuit breaker: what counts as failure", () => {
  test("4xx errors, gRPC NOT_FOUND / INVALID_ARGUMENT count as successes", async () => {
    const { cb } = breaker({ minimumNumberOfCalls: 5, slidingWindowSize: 5 });
    const errors = [new NotFoundError("no task"), new ValidationError("bad"), { status: 409 }, grpcError(GrpcStatus.NOT_FOUND), grpcError(GrpcStatus.INVALID_ARGUMENT)];
    for (const error of errors) await outcome(cb.execute(() => Promise.reject(error)));
    expect(cb.state).toBe("CLOSED");
    expect(cb.metrics()).toMatchObject({ buffered: 5, failed: 0 });
  });

  test("HTTP 5xx, connection refused and gRPC UNAVAILABLE/DEADLINE_EXCEEDED/INTERNAL/RESOURCE_EXHAUSTED count as failures", async () => {
    const { cb } = breaker({ minimumNumberOfCalls: 7, slidingWindowSize: 7, failureRateThreshold: 100 });
    const errors = [
      { status: 503 },
      Object.assign(new TypeError("Unable to connect"), { code: "ECONNREFUSED" }),
      grpcError(GrpcStatus.UNAVAILABLE),
      grpcError(GrpcStatus.DEADLINE_EXCEEDED),
      grpcError(GrpcStatus.INTERNAL),
      grpcError(GrpcStatus.RESOURCE_EXHAUSTED),
      new Error("anything unexpected"),
    ];
    for (const error of errors) await outcome(cb.execute(() => Promise.reject(error)));
    expect(cb.state).toBe("OPEN");
  });

  test("the caller's own cancellation is ignored: neither success nor failure", async () => {
    const { cb } = breaker();
    const caller = new AbortController();
    const call = pending();
    const result = cb.execute(call.fn, caller.signal);
    expect(call.signal).toBe(caller.signal);
    caller.abort();
    call.reject(new DOMException("The operation was aborted.", "AbortError"));
    await outcome(result);
    expect(cb.metrics()).toMatchObject({ buffered: 0, ignoredTotal: 1 });
  });

  test("a returned 503 Response counts as failure, a 404 Response as success", async () => {
    const { cb } = breaker({ minimumNumberOfCalls: 2, slidingWindowSize: 2, failureRateThreshold: 100 });
    const notFound = await cb.execute(() => Promise.resolve(new Response("", { status: 404 })));
    expect(notFound.status).toBe(404);
    expect(cb.metrics()).toMatchObject({ buffered: 1, failed: 0 });
    const unavailable = await cb.execute(() => Promise.resolve(new Response("", { status: 503 })));
    expect(unavailable.status).toBe(503); // the response still reaches the caller
    await cb.execute(() => Promise.resolve(new Response("", { status: 500 })));
    expect(cb.state).toBe("OPEN");
  });

  test("a custom classifier decides instead of the default", async () => {
    const { cb } = breaker({ minimumNumberOfCalls: 1, classifyError: () => "ignore" });
    await run(cb, 5, 0);
    expect(cb.state).toBe("CLOSED");
    expect(cb.metrics().ignoredTotal).toBe(5);
  });

  test("a synchronous throw inside fn is recorded and rejected", async () => {
    const { cb } = breaker({ minimumNumberOfCalls: 1, slidingWindowSize: 1 });
    const result = await outcome(cb.execute(() => { throw new Error("sync"); }));
    expect(result.ok).toBe(false);
    expect(cb.state).toBe("OPEN");
  });
});

describe("circuit breaker: OPEN", () => {
  test("rejects at once with CallNotPermittedError carrying the remaining wait, without calling", async () => {
    const { cb, clock } = breaker();
    await openBreaker(cb);
    clock.advance(20_000);
    let called = false;
    const result = await outcome(cb.execute(() => { called = true; return ok(); }));
    expect(called).toBe(false);
    expect(result.ok).toBe(false);
    const error = (result as { error: unknown }).error as CallNotPermittedError;
    expect(error).toBeInstanceOf(CallNotPermittedError);
    expect(error).toMatchObject({ httpStatus: 503, code: "CIRCUIT_OPEN", retryAfterMs: 40_000, state: "OPEN" });
    expect(cb.metrics().notPermitted).toBe(1);
  });

  test("moves to HALF_OPEN lazily on the first call after waitDurationInOpenState", async () => {
    const { cb, clock } = breaker();
    await openBreaker(cb);
    clock.advance(59_999);
    expect(cb.tryAcquirePermission()).toBe(false);
    clock.advance(1);
    expect(cb.state).toBe("OPEN"); // nothing happens without a call
    expect(cb.tryAcquirePermission()).toBe(true);
    expect(cb.state).toBe("HALF_OPEN");
  });

  test("moves to HALF_OPEN by timer when automaticTransitionFromOpenToHalfOpenEnabled", async () => {
    const { cb, clock } = breaker({ automaticTransitionFromOpenToHalfOpenEnabled: true });
    await openBreaker(cb);
    clock.advance(60_000);
    expect(cb.state).toBe("HALF_OPEN");
  });
});

describe("circuit breaker: HALF_OPEN", () => {
  async function halfOpen(options: CircuitBreakerOptions = {}) {
    const b = breaker(options);
    await openBreaker(b.cb);
    b.clock.advance(60_000);
    return b;
  }

  test("admits exactly permittedNumberOfCallsInHalfOpenState concurrent trials and rejects the rest", async () => {
    const { cb } = await halfOpen();
    const calls = Array.from({ length: 5 }, () => pending());
    const results = calls.map((c) => outcome(cb.execute(c.fn)));
    expect(calls.filter((c) => c.signal !== undefined)).toHaveLength(3);
    const rejected = (await Promise.all(results.slice(3)));
    for (const r of rejected) expect((r as { error: unknown }).error).toBeInstanceOf(CallNotPermittedError);
    calls.slice(0, 3).forEach((c) => c.resolve("ok"));
    await Promise.all(results);
    expect(cb.state).toBe("CLOSED");
  });

  test("decides only when every trial has finished", async () => {
    const { cb } = await halfOpen();
    const calls = Array.from({ length: 3 }, () => pending());
    const results = calls.map((c) => outcome(cb.execute(c.fn)));
    calls[0]!.resolve("ok");
    calls[1]!.resolve("ok");
    await flush();
    expect(cb.state).toBe("HALF_OPEN");
    calls[2]!.reject(new Error("still broken"));
    await Promise.all(results);
    expect(cb.state).toBe("CLOSED"); // 1 of 3 = 33% < 50%
  });

  test("goes back to OPEN when trials fail at the threshold", async () => {
    const { cb } = await halfOpen({ permittedNumberOfCallsInHalfOpenState: 2 });
    await run(cb, 1, 1);
    expect(cb.state).toBe("OPEN");
    expect(cb.retryAfterMs()).toBe(60_000);
  });

  test("a stuck HALF_OPEN goes back to OPEN after maxWaitDurationInHalfOpenState", async () => {
    const { cb, clock } = await halfOpen({ maxWaitDurationInHalfOpenState: 5_000 });
    const hung = Array.from({ length: 3 }, () => pending());
    for (const c of hung) void outcome(cb.execute(c.fn));
    expect(cb.state).toBe("HALF_OPEN");
    clock.advance(4_999);
    expect(cb.state).toBe("HALF_OPEN");
    clock.advance(1);
    expect(cb.state).toBe("OPEN");
    hung.forEach((c) => c.resolve("too late"));
    await flush();
    expect(cb.state).toBe("OPEN"); // late trial results do not close it
  });

  test("a call admitted while CLOSED that finishes during HALF_OPEN does not count as a trial", async () => {
    const { cb, clock } = breaker({ minimumNumberOfCalls: 2, slidingWindowSize: 2, permittedNumberOfCallsInHalfOpenState: 1 });
    const straggler = pending();
    const stragglerResult = outcome(cb.execute(straggler.fn));
    await run(cb, 2, 0);
    clock.advance(60_000);
    expect(cb.tryAcquirePermission()).toBe(true); // the single trial slot
    straggler.resolve("old news");
    await stragglerResult;
    expect(cb.state).toBe("HALF_OPEN");
    cb.onResult(5, false, cb.epoch);
    expect(cb.state).toBe("CLOSED");
  });

  test("an ignored trial (caller cancelled) frees its slot", async () => {
    const { cb } = await halfOpen({ permittedNumberOfCallsInHalfOpenState: 1 });
    const caller = new AbortController();
    const trial = pending();
    const result = outcome(cb.execute(trial.fn, caller.signal));
    expect(cb.tryAcquirePermission()).toBe(false);
    caller.abort();
    trial.reject(caller.signal.reason);
    await result;
    expect(cb.state).toBe("HALF_OPEN");
    expect(cb.tryAcquirePermission()).toBe(true);
  });
});

describe("circuit breaker: operator states, events, metrics", () => {
  test("DISABLED admits everything and records nothing; FORCED_OPEN rejects everything", async () => {
    const { cb } = breaker();
    cb.transitionToDisabledState();
    await run(cb, 20, 0);
    expect(cb.state).toBe("DISABLED");
    expect(cb.metrics().buffered).toBe(0);
    cb.transitionToForcedOpenState();
    const result = await outcome(cb.execute(ok));
    expect((result as { error: CallNotPermittedError }).error.state).toBe("FORCED_OPEN");
    cb.transitionToClosedState();
    expect(await cb.execute(ok)).toBe("ok");
  });

  test("reset returns to CLOSED with empty metrics", async () => {
    const { cb } = breaker();
    await openBreaker(cb);
    await outcome(cb.execute(ok));
    cb.reset();
    expect(cb.metrics()).toMatchObject({ state: "CLOSED", buffered: 0, notPermitted: 0, failedTotal: 0 });
  });

  test("emits state transitions, rejections, successes and errors", async () => {
    const { cb, clock } = breaker({ minimumNumberOfCalls: 2, slidingWindowSize: 2, permittedNumberOfCallsInHalfOpenState: 1 });
    const transitions: StateTransitionEvent[] = [];
    let notPermitted = 0, successes = 0, errors = 0;
    cb.onStateTransition.on((e) => transitions.push(e));
    cb.onCallNotPermitted.on(() => notPermitted++);
    cb.onSuccess.on(() => successes++);
    cb.onError.on(() => errors++);
    await run(cb, 2, 0);
    await outcome(cb.execute(ok));
    clock.advance(60_000);
    await run(cb, 0, 1);
    expect(transitions.map((t) => `${t.from}->${t.to}`)).toEqual(["CLOSED->OPEN", "OPEN->HALF_OPEN", "HALF_OPEN->CLOSED"]);
    expect({ notPermitted, successes, errors }).toEqual({ notPermitted: 1, successes: 1, errors: 2 });
    expect(cb.metrics().transitions).toEqual({ "CLOSED->OPEN": 1, "OPEN->HALF_OPEN": 1, "HALF_OPEN->CLOSED": 1 });
  });

  test("a throwing listener does not change the outcome", async () => {
    const { cb } = breaker({ minimumNumberOfCalls: 1, slidingWindowSize: 1 });
    cb.onStateTransition.on(() => { throw new Error("listener bug"); });
    await run(cb, 1, 0);
    expect(cb.state).toBe("OPEN");
  });

  test("the hot path (tryAcquirePermission/onResult) follows the same rules as execute", () => {
    const { cb } = breaker();
    for (let i = 0; i < 10; i++) {
      expect(cb.tryAcquirePermission()).toBe(true);
      cb.onResult(3, i % 2 === 0);
    }
    expect(cb.state).toBe("OPEN");
    expect(cb.tryAcquirePermission()).toBe(false);
  });
});

describe("consecutive breaker (seed 004: failureThreshold 5, successThreshold 2, resetTimeout 30 s)", () => {
  function seedBreaker() {
    const clock = new FakeClock();
    const cb = new CircuitBreaker({ name: "taskService", clock, type: "consecutive", failureThreshold: 5, successThreshold: 2, permittedNumberOfCallsInHalfOpenState: 2, waitDurationInOpenState: 30_000 });
    return { cb, clock };
  }

  test("opens at the 5th consecutive failure, not at 5 failures with a success between", async () => {
    const { cb } = seedBreaker();
    await run(cb, 4, 1);
    await run(cb, 4, 0);
    expect(cb.state).toBe("CLOSED");
    await run(cb, 1, 0);
    expect(cb.state).toBe("OPEN");
    expect(await outcome(cb.execute(ok))).toMatchObject({ ok: false, error: expect.any(CallNotPermittedError) });
  });

  test("after resetTimeout, 2 half-open successes close it", async () => {
    const { cb, clock } = seedBreaker();
    await run(cb, 5, 0);
    clock.advance(29_999);
    expect(cb.tryAcquirePermission()).toBe(false);
    clock.advance(1);
    await run(cb, 0, 1);
    expect(cb.state).toBe("HALF_OPEN");
    await run(cb, 0, 1);
    expect(cb.state).toBe("CLOSED");
    // the count starts afresh: 4 more failures do not open it
    await run(cb, 4, 0);
    expect(cb.state).toBe("CLOSED");
  });

  test("a failure in half-open opens it again at once", async () => {
    const { cb, clock } = seedBreaker();
    await run(cb, 5, 0);
    clock.advance(30_000);
    await run(cb, 0, 1);
    await run(cb, 1, 0);
    expect(cb.state).toBe("OPEN");
  });
});
