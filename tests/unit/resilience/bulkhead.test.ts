import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../../src/platform/clock.ts";
import { Bulkhead } from "../../../src/resilience/bulkhead.ts";
import { BulkheadFullError, TimeoutError } from "../../../src/resilience/errors.ts";
import { flush, outcome, pending } from "./helpers.ts";

function setup(maxConcurrentCalls = 2, maxWaitDuration = 0, maxWaitingCalls = 10) {
  const clock = new FakeClock();
  return { clock, bh: new Bulkhead({ name: "processService", clock, maxConcurrentCalls, maxWaitDuration, maxWaitingCalls }) };
}

describe("bulkhead", () => {
  test("admits maxConcurrentCalls and rejects the next one at once when there is no wait", async () => {
    const { bh } = setup(2);
    const a = pending(), b = pending();
    const ra = bh.execute(a.fn), rb = bh.execute(b.fn);
    let thirdCalled = false;
    const third = await outcome(bh.execute(() => { thirdCalled = true; return Promise.resolve("x"); }));
    expect(thirdCalled).toBe(false);
    const error = (third as { error: BulkheadFullError }).error;
    expect(error).toBeInstanceOf(BulkheadFullError);
    expect(error).toMatchObject({ httpStatus: 503, code: "BULKHEAD_FULL" });
    a.resolve("a");
    b.resolve("b");
    expect([await ra, await rb]).toEqual(["a", "b"]);
    expect(bh.metrics()).toMatchObject({ availableConcurrentCalls: 2, rejected: 1 });
  });

  test("a waiting call gets the slot a finished call frees, first come first served", async () => {
    const { bh } = setup(1, 1_000);
    const running = pending();
    const first = bh.execute(running.fn);
    const order: string[] = [];
    const w1 = bh.execute(async () => { order.push("w1"); return "w1"; });
    const w2 = bh.execute(async () => { order.push("w2"); return "w2"; });
    expect(bh.metrics().waiting).toBe(2);
    running.resolve("first");
    expect(await Promise.all([first, w1, w2])).toEqual(["first", "w1", "w2"]);
    expect(order).toEqual(["w1", "w2"]);
    expect(bh.metrics()).toMatchObject({ availableConcurrentCalls: 1, waiting: 0 });
  });

  test("a queued call that waits maxWaitDuration is rejected and leaves the queue", async () => {
    const { clock, bh } = setup(1, 500);
    const running = pending();
    void bh.execute(running.fn);
    const waiting = outcome(bh.execute(() => Promise.resolve("late")));
    clock.advance(499);
    await flush();
    expect(bh.metrics().waiting).toBe(1);
    clock.advance(1);
    expect((await waiting as { error: unknown }).error).toBeInstanceOf(BulkheadFullError);
    expect(bh.metrics().waiting).toBe(0);
  });

  test("the wait queue is bounded: beyond maxWaitingCalls the rejection is immediate", async () => {
    const { bh } = setup(1, 1_000, 1);
    void bh.execute(pending().fn);
    void bh.execute(pending().fn);
    const r = await outcome(bh.execute(() => Promise.resolve("x")));
    expect((r as { error: unknown }).error).toBeInstanceOf(BulkheadFullError);
  });

  test("waiting never outlasts the caller's deadline", async () => {
    const { clock, bh } = setup(1, 10_000);
    void bh.execute(pending().fn);
    const waiting = outcome(bh.execute(() => Promise.resolve("x"), undefined, { deadline: clock.now() + 200 }));
    clock.advance(200);
    expect((await waiting as { error: TimeoutError }).error).toBeInstanceOf(TimeoutError);
  });

  test("the caller's abort removes it from the queue", async () => {
    const { bh } = setup(1, 10_000);
    const running = pending();
    void bh.execute(running.fn);
    const caller = new AbortController();
    const waiting = outcome(bh.execute(() => Promise.resolve("x"), caller.signal));
    caller.abort(new Error("gone"));
    expect((await waiting).ok).toBe(false);
    expect(bh.metrics().waiting).toBe(0);
    running.resolve("done");
    await flush();
    expect(bh.metrics().availableConcurrentCalls).toBe(1);
  });

  test("a failing call frees its slot too", async () => {
    const { bh } = setup(1);
    await outcome(bh.execute(() => Promise.reject(new Error("boom"))));
    await outcome(bh.execute(() => { throw new Error("sync boom"); }));
    expect(await bh.execute(() => Promise.resolve("ok"))).toBe("ok");
  });

  test("tryAcquirePermission / releasePermission for the hot path", () => {
    const { bh } = setup(1);
    expect(bh.tryAcquirePermission()).toBe(true);
    expect(bh.tryAcquirePermission()).toBe(false);
    bh.releasePermission();
    expect(bh.tryAcquirePermission()).toBe(true);
  });
});
