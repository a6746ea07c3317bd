import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../../src/platform/clock.ts";
import { NotFoundError, UnavailableError } from "../../../src/platform/errors.ts";
import { BulkheadFullError, CallNotPermittedError, TimeoutError } from "../../../src/resilience/errors.ts";
import { Retry, type GiveUpEvent, type IgnoredErrorEvent, type RetryOptions } from "../../../src/resilience/retry.ts";
import { RetryBudget } from "../../../src/resilience/retry-budget.ts";
import { flush, outcome } from "./helpers.ts";

const unavailable = () => new UnavailableError("instance down");

function setup(options: RetryOptions = {}) {
  const clock = new FakeClock();
  const retry = new Retry({ name: "taskService", clock, random: () => 0.5, maxAttempts: 3, backoffPeriod: 100, backoffMultiplier: 2, maxBackoffPeriod: 1_000, jitter: "none", ...options });
  const giveUps: GiveUpEvent[] = [];
  retry.onGiveUp.on((e) => giveUps.push(e));
  const ignored: IgnoredErrorEvent[] = [];
  retry.onIgnoredError.on((e) => ignored.push(e));
  let calls = 0;
  const failing = (error: unknown = unavailable()) => () => {
    calls++;
    return Promise.reject(error);
  };
  return { clock, retry, giveUps, ignored, calls: () => calls, failing };
}

/** Drives a retrying call through its backoff sleeps by advancing the fake clock. */
async function drive<T>(clock: FakeClock, promise: Promise<T>, stepMs = 50, maxSteps = 200) {
  let done = false;
  const settled = outcome(promise).finally(() => (done = true));
  for (let i = 0; i < maxSteps && !done; i++) {
    await flush();
    if (!done) clock.advance(stepMs);
  }
  return settled;
}

describe("retry", () => {
  test("retries a transient failure up to maxAttempts, then throws the last error", async () => {
    const { clock, retry, calls, failing, giveUps } = setup();
    const r = await drive(clock, retry.execute(failing()));
    expect(calls()).toBe(3);
    expect((r as { error: unknown }).error).toBeInstanceOf(UnavailableError);
    expect(giveUps).toEqual([{ name: "taskService", attempts: 3, reason: "maxAttempts" }]);
    expect(retry.metrics()).toMatchObject({ retries: 2, failedWithRetry: 1 });
  });

  test("returns the first success and counts it", async () => {
    const { clock, retry } = setup();
    let n = 0;
    const r = await drive(clock, retry.execute(() => (++n < 2 ? Promise.reject(unavailable()) : Promise.resolve("ok"))));
    expect(r).toEqual({ ok: true, value: "ok" });
    expect(retry.metrics()).toMatchObject({ successfulWithRetry: 1, retries: 1 });
  });

  test("backoff grows by backoffMultiplier, caps at maxBackoffPeriod, and full jitter scales it by random()", () => {
    const { retry } = setup({ backoffPeriod: 100, backoffMultiplier: 3, maxBackoffPeriod: 500 });
    expect([1, 2, 3, 4].map((n) => retry.delayFor(n))).toEqual([100, 300, 500, 500]);
    const jittered = setup({ jitter: "full", backoffPeriod: 100 }).retry;
    expect(jittered.delayFor(2)).toBe(100); // random 0.5 × 200
    const equal = setup({ jitter: "equal", backoffPeriod: 100 }).retry;
    expect(equal.delayFor(1)).toBe(75); // 50 + 0.5 × 50
  });

  test("sleeps the backoff on the injected clock before each retry", async () => {
    const { clock, retry, calls, failing } = setup();
    const result = outcome(retry.execute(failing()));
    await flush();
    expect(calls()).toBe(1);
    clock.advance(99);
    await flush();
    expect(calls()).toBe(1);
    clock.advance(1);
    await flush();
    expect(calls()).toBe(2);
    clock.advance(200);
    await flush();
    expect(calls()).toBe(3);
    await result;
  });

  test("does not retry 4xx, an open breaker or a full bulkhead", async () => {
    for (const error of [new NotFoundError("no"), new CallNotPermittedError("x", "OPEN", 1000), new BulkheadFullError("x", 1), { status: 400 }]) {
      const { clock, retry, calls, failing, giveUps, ignored } = setup();
      const r = await drive(clock, retry.execute(failing(error)));
      expect(calls()).toBe(1);
      expect((r as { error: unknown }).error).toBe(error);
      // Resilience4j: an error retry does not handle is IGNORED_ERROR, not a give-up (no retry was ever in question)
      expect(giveUps).toEqual([]);
      expect(ignored).toEqual([{ name: "taskService", attempts: 1, error }]);
      expect(retry.metrics().failedWithoutRetry).toBe(1);
    }
  });

  test("retries timeouts and connection errors", async () => {
    for (const error of [new TimeoutError("x", 10, "timeout"), Object.assign(new TypeError("Unable to connect"), { code: "ECONNREFUSED" })]) {
      const { clock, retry, calls, failing } = setup();
      await drive(clock, retry.execute(failing(error)));
      expect(calls()).toBe(3);
    }
  });

  test("never retries a call marked non-idempotent", async () => {
    const { clock, retry, calls, failing, giveUps } = setup();
    await drive(clock, retry.execute(failing(), undefined, { idempotent: false }));
    expect(calls()).toBe(1);
    expect(giveUps[0]!.reason).toBe("notIdempotent");
  });

  test("never sleeps past the caller's deadline", async () => {
    const { clock, retry, calls, failing, giveUps } = setup();
    const deadline = clock.now() + 250; // first wait 100 fits; the second (200) would end at 300
    const start = clock.now();
    await drive(clock, retry.execute(failing(), undefined, { deadline }), 10);
    expect(calls()).toBe(2);
    expect(giveUps[0]!.reason).toBe("deadline");
    expect(clock.now() - start).toBeLessThan(250);
    expect(clock.pendingTimers()).toBe(0);
  });

  test("the caller's abort ends a backoff sleep at once and no further attempt is made", async () => {
    const { clock, retry, calls, failing } = setup();
    const caller = new AbortController();
    const result = outcome(retry.execute(failing(), caller.signal));
    await flush();
    expect(clock.pendingTimers()).toBe(1); // sleeping before retry 1
    const reason = new Error("client left");
    caller.abort(reason);
    expect(await result).toEqual({ ok: false, error: reason });
    expect(calls()).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  test("a 503 Response is retried and the last one is returned, not thrown", async () => {
    const { clock, retry } = setup();
    let n = 0;
    const r = await drive(clock, retry.execute(() => Promise.resolve(new Response(`try ${++n}`, { status: 503 }))));
    expect(n).toBe(3);
    const response = (r as { value: Response }).value;
    expect(response.status).toBe(503);
    expect(await response.text()).toBe("try 3");
  });
});

describe("retry budget", () => {
  test("retries stay within 20% of requests; refusals are counted as exhaustion", async () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ clock, retryBudgetPercent: 20, retryBudgetMinRetriesPerSecond: 0, retryBudgetWindow: 10_000 });
    const retry = new Retry({ clock, budget, maxAttempts: 2, backoffPeriod: 0 });
    let calls = 0;
    for (let i = 0; i < 10; i++) await outcome(retry.execute(() => { calls++; return Promise.reject(unavailable()); }));
    // Request 5 brings the allowance to 1 retry, request 10 to 2; all other retries are refused.
    expect(calls).toBe(12);
    expect(budget.metrics()).toMatchObject({ requests: 10, retries: 2, exhausted: 8, available: 0 });
    expect(retry.metrics().budgetExhausted).toBe(8);
  });

  test("one budget is shared by every caller of the downstream", async () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ clock, retryBudgetPercent: 50, retryBudgetMinRetriesPerSecond: 0 });
    const a = new Retry({ clock, budget, maxAttempts: 2, backoffPeriod: 0 });
    const b = new Retry({ clock, budget, maxAttempts: 2, backoffPeriod: 0 });
    await outcome(a.execute(() => Promise.resolve("fine")));
    await outcome(a.execute(() => Promise.resolve("fine")));
    await outcome(b.execute(() => Promise.reject(unavailable()))); // 3 requests → 1 retry allowed
    await outcome(b.execute(() => Promise.reject(unavailable())));
    expect(budget.metrics()).toMatchObject({ requests: 4, retries: 2 });
    expect(b.metrics().budgetExhausted).toBe(0);
    await outcome(a.execute(() => Promise.reject(unavailable())));
    expect(a.metrics().budgetExhausted).toBe(1);
  });

  test("a floor of retries per second lets low traffic retry", () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ clock, retryBudgetPercent: 20, retryBudgetMinRetriesPerSecond: 1, retryBudgetWindow: 10_000 });
    let granted = 0;
    for (let i = 0; i < 15; i++) if (budget.tryAcquireRetry()) granted++;
    expect(granted).toBe(10); // 1/s × 10 s, no requests needed
  });

  test("spent retries age out of the window", () => {
    const clock = new FakeClock(0);
    const budget = new RetryBudget({ clock, retryBudgetPercent: 0, retryBudgetMinRetriesPerSecond: 1, retryBudgetWindow: 10_000 });
    for (let i = 0; i < 10; i++) expect(budget.tryAcquireRetry()).toBe(true);
    expect(budget.tryAcquireRetry()).toBe(false);
    clock.advance(9_999);
    expect(budget.tryAcquireRetry()).toBe(false);
    clock.advance(1); // second 10: second 0's retries left the window
    expect(budget.metrics().available).toBe(10);
    expect(budget.metrics().exhausted).toBe(2);
  });
});

describe("retry with a first attempt made by the caller (begin / firstSucceeded / resume)", () => {
  /** Runs the same script of attempt outcomes through execute and through the caller-made first attempt. */
  async function both(script: (() => Promise<string>)[], options: RetryOptions = {}) {
    const run = async (direct: boolean) => {
      const budget = new RetryBudget({ clock: new FakeClock(), retryBudgetPercent: 20, retryBudgetMinRetriesPerSecond: 10, retryBudgetWindow: 10_000 });
      const s = setup({ budget, ...options });
      const retries: number[] = [];
      s.retry.onRetry.on((e) => retries.push(e.attempt));
      let i = 0;
      const fn = () => script[Math.min(i++, script.length - 1)]!();
      let result;
      if (!direct) {
        result = await drive(s.clock, s.retry.execute(fn));
      } else {
        s.retry.begin();
        const first = await outcome(fn());
        if (first.ok && s.retry.firstSucceeded(first.value)) result = first;
        else result = await drive(s.clock, s.retry.resume(first.ok ? { failed: false, value: first.value } : { failed: true, error: first.error }, fn));
      }
      return { result, attempts: i, retries, giveUps: s.giveUps.map((g) => g.reason), ignored: s.ignored.length, metrics: s.retry.metrics(), budget: budget.metrics() };
    };
    const viaExecute = await run(false);
    const viaCaller = await run(true);
    expect(viaCaller).toEqual(viaExecute);
    return viaCaller;
  }
  const ok = () => Promise.resolve("ok");
  const down = () => Promise.reject(unavailable());
  const missing = () => Promise.reject(new NotFoundError("no such task"));

  test("first attempt succeeds: counted once, nothing retried", async () => {
    const r = await both([ok]);
    expect(r.metrics.successfulWithoutRetry).toBe(1);
    expect(r.attempts).toBe(1);
  });

  test("first fails, second succeeds: one retry, counted as success with retry", async () => {
    const r = await both([down, ok]);
    expect(r.metrics.successfulWithRetry).toBe(1);
    expect(r.retries).toEqual([2]);
  });

  test("every attempt fails: gives up at maxAttempts with the last error", async () => {
    const r = await both([down]);
    expect(r.attempts).toBe(3);
    expect(r.giveUps).toEqual(["maxAttempts"]);
    expect(r.result.ok).toBe(false);
  });

  test("a non-transient error is passed on at once, announced as ignored", async () => {
    const r = await both([missing]);
    expect(r.attempts).toBe(1);
    expect(r.ignored).toBe(1);
  });

  test("a result worth retrying (a retryable value) goes on like execute", async () => {
    const r = await both([() => Promise.resolve("busy"), ok], { retryOnResult: (v) => v === "busy" });
    expect(r.metrics.successfulWithRetry).toBe(1);
    expect(r.result).toEqual({ ok: true, value: "ok" });
  });
});
