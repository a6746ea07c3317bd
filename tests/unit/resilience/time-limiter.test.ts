import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../../src/platform/clock.ts";
import { TimeoutError } from "../../../src/resilience/errors.ts";
import { TimeLimiter } from "../../../src/resilience/time-limiter.ts";
import { flush, outcome, pending } from "./helpers.ts";

function limiter(timeoutDuration = 1_000) {
  const clock = new FakeClock();
  return { clock, tl: new TimeLimiter({ name: "formService", clock, timeoutDuration }) };
}

describe("time limiter", () => {
  test("times out after timeoutDuration and aborts the call's signal with the TimeoutError", async () => {
    const { clock, tl } = limiter();
    const call = pending();
    const result = outcome(tl.execute(call.fn));
    clock.advance(999);
    expect(call.signal!.aborted).toBe(false);
    clock.advance(1);
    const r = await result;
    const error = (r as { error: TimeoutError }).error;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ httpStatus: 504, code: "UPSTREAM_TIMEOUT", reason: "timeout" });
    expect(call.signal!.aborted).toBe(true);
    expect(call.signal!.reason).toBe(error);
    expect(tl.metrics().timeouts).toBe(1);
  });

  test("the caller's deadline wins when it is sooner than timeoutDuration", async () => {
    const { clock, tl } = limiter(5_000);
    const call = pending();
    const result = outcome(tl.execute(call.fn, undefined, { deadline: clock.now() + 300 }));
    clock.advance(300);
    expect(((await result) as { error: TimeoutError }).error.reason).toBe("deadline");
  });

  test("a deadline already passed fails at once without calling", async () => {
    const { clock, tl } = limiter();
    let called = false;
    const r = await outcome(tl.execute(() => { called = true; return Promise.resolve(1); }, undefined, { deadline: clock.now() }));
    expect(called).toBe(false);
    expect((r as { error: unknown }).error).toBeInstanceOf(TimeoutError);
  });

  test("the caller's abort propagates to the call and rejects with the caller's reason", async () => {
    const { tl } = limiter();
    const caller = new AbortController();
    const call = pending();
    const result = outcome(tl.execute(call.fn, caller.signal));
    const reason = new Error("client went away");
    caller.abort(reason);
    expect(call.signal!.aborted).toBe(true);
    expect(await result).toEqual({ ok: false, error: reason });
    expect(tl.metrics().timeouts).toBe(0);
  });

  test("a call that finishes in time leaves no timer behind", async () => {
    const { clock, tl } = limiter();
    const call = pending();
    const result = tl.execute(call.fn);
    call.resolve("done");
    expect(await result).toBe("done");
    await flush();
    expect(clock.pendingTimers()).toBe(0);
  });

  test("with cancelRunningFuture: false the call keeps running but the caller is answered", async () => {
    const clock = new FakeClock();
    const tl = new TimeLimiter({ clock, timeoutDuration: 100, cancelRunningFuture: false });
    const call = pending();
    const result = outcome(tl.execute(call.fn));
    clock.advance(100);
    expect((await result).ok).toBe(false);
    expect(call.signal!.aborted).toBe(false);
  });

  test("really cancels an HTTP request to a server that hangs", async () => {
    let serverSawAbort!: () => void;
    const aborted = new Promise<void>((resolve) => (serverSawAbort = resolve));
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        req.signal.addEventListener("abort", () => serverSawAbort());
        return new Promise<Response>(() => {}); // never answers
      },
    });
    try {
      const tl = new TimeLimiter({ timeoutDuration: 50 });
      const r = await outcome(tl.execute((signal) => fetch(`http://127.0.0.1:${server.port}/hang`, { signal })));
      expect((r as { error: unknown }).error).toBeInstanceOf(TimeoutError);
      await aborted; // the server-side request was torn down, not left running
    } finally {
      server.stop(true);
    }
  });
});
