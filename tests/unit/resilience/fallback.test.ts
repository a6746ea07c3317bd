import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../../src/platform/clock.ts";
import { NotFoundError, UnavailableError } from "../../../src/platform/errors.ts";
import { CallNotPermittedError } from "../../../src/resilience/errors.ts";
import { Fallback } from "../../../src/resilience/fallback.ts";
import { outcome } from "./helpers.ts";

const down = () => Promise.reject(new UnavailableError("down"));

describe("fallback", () => {
  test("serves the last good result while younger than cacheTimeout, then the default", async () => {
    const clock = new FakeClock();
    const fb = new Fallback<string>({ shouldCache: true, cacheTimeout: 30_000, defaultResponse: "[]", clock });
    expect(await fb.execute("tasks:u1", () => Promise.resolve("[1,2]"))).toEqual({ value: "[1,2]", source: "live", ageMs: 0 });
    clock.advance(30_000);
    expect(await fb.execute("tasks:u1", down)).toMatchObject({ value: "[1,2]", source: "cache", ageMs: 30_000 });
    clock.advance(1);
    expect(await fb.execute("tasks:u1", down)).toMatchObject({ value: "[]", source: "default" });
  });

  test("the cache is per key", async () => {
    const fb = new Fallback<string>({ shouldCache: true, cacheTimeout: 60_000, defaultResponse: "none", clock: new FakeClock() });
    await fb.execute("a", () => Promise.resolve("A"));
    expect((await fb.execute("b", down)).value).toBe("none");
  });

  test("without shouldCache nothing is remembered", async () => {
    const fb = new Fallback<string>({ shouldCache: false, cacheTimeout: 60_000, defaultResponse: "d", clock: new FakeClock() });
    await fb.execute("k", () => Promise.resolve("live"));
    expect((await fb.execute("k", down)).source).toBe("default");
  });

  test("a fallback function is used before defaultResponse and sees the error", async () => {
    const fb = new Fallback<string>({ fallback: (error, key) => `${key}:${(error as Error).message}`, defaultResponse: "unused" });
    expect(await fb.execute("k", down)).toMatchObject({ value: "k:down", source: "default" });
  });

  test("an open breaker falls back; 4xx errors and the caller's abort do not", async () => {
    const fb = new Fallback<string>({ defaultResponse: "d" });
    expect((await fb.execute("k", () => Promise.reject(new CallNotPermittedError("x", "OPEN", 5)))).source).toBe("default");
    const notFound = await outcome(fb.execute("k", () => Promise.reject(new NotFoundError("no such task"))));
    expect((notFound as { error: unknown }).error).toBeInstanceOf(NotFoundError);
    const caller = new AbortController();
    caller.abort();
    const aborted = await outcome(fb.execute("k", () => Promise.reject(caller.signal.reason), caller.signal));
    expect(aborted.ok).toBe(false);
  });

  test("a 503 Response falls back to the cached one; without anything to serve it is passed through", async () => {
    const fb = new Fallback<Response | string>({ shouldCache: true, cacheTimeout: 1_000, clock: new FakeClock() });
    await fb.execute("k", () => Promise.resolve("cached body"));
    expect((await fb.execute("k", () => Promise.resolve(new Response("", { status: 503 })))).source).toBe("cache");
    const passed = await fb.execute("other", () => Promise.resolve(new Response("", { status: 503 })));
    expect(passed.source).toBe("live");
    expect((passed.value as Response).status).toBe(503);
  });

  test("with no cache, function or default, the original error is rethrown", async () => {
    const fb = new Fallback<string>();
    const r = await outcome(fb.execute("k", down));
    expect((r as { error: unknown }).error).toBeInstanceOf(UnavailableError);
  });

  test("the cache holds at most maxEntries keys, dropping the least recently written", async () => {
    const fb = new Fallback<string>({ shouldCache: true, cacheTimeout: 60_000, maxEntries: 2, defaultResponse: "gone", clock: new FakeClock() });
    for (const key of ["a", "b", "a", "c"]) await fb.execute(key, () => Promise.resolve(key.toUpperCase()));
    expect(fb.metrics().cachedKeys).toBe(2);
    expect((await fb.execute("b", down)).value).toBe("gone");
    expect((await fb.execute("a", down)).value).toBe("A");
  });
});
