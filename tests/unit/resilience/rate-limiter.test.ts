import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../../src/platform/clock.ts";
import { RateLimitedError } from "../../../src/resilience/errors.ts";
import { RateLimiter, rateLimitHeaders } from "../../../src/resilience/rate-limiter.ts";
import { outcome } from "./helpers.ts";

function seedLimiter(maxKeys = 100_000) {
  const clock = new FakeClock();
  return { clock, rl: new RateLimiter({ name: "gateway", clock, limitForPeriod: 100, limitRefreshPeriod: 60_000, maxKeys }) };
}

describe("rate limiter (seed: 100 requests / 60 s per client)", () => {
  test("allows exactly 100 at once, refuses the 101st with the wait for one token", () => {
    const { rl } = seedLimiter();
    for (let i = 0; i < 100; i++) {
      const d = rl.check("1.2.3.4");
      expect(d.allowed).toBe(true);
      expect(d.remaining).toBe(99 - i);
    }
    expect(rl.check("1.2.3.4")).toEqual({ allowed: false, limit: 100, remaining: 0, resetMs: 60_000, retryAfterMs: 600 });
  });

  test("a token comes back exactly every 600 ms, not a millisecond earlier", () => {
    const { clock, rl } = seedLimiter();
    for (let i = 0; i < 100; i++) rl.check("c");
    clock.advance(599);
    expect(rl.check("c")).toMatchObject({ allowed: false, retryAfterMs: 1 });
    clock.advance(1);
    expect(rl.check("c")).toMatchObject({ allowed: true, remaining: 0 });
    expect(rl.check("c").allowed).toBe(false);
  });

  test("after a full period of silence the bucket is full again, never fuller", () => {
    const { clock, rl } = seedLimiter();
    for (let i = 0; i < 100; i++) rl.check("c");
    clock.advance(600_000);
    let allowed = 0;
    for (let i = 0; i < 150; i++) if (rl.check("c").allowed) allowed++;
    expect(allowed).toBe(100);
  });

  test("clients do not share a bucket", () => {
    const { rl } = seedLimiter();
    for (let i = 0; i < 100; i++) rl.check("a");
    expect(rl.check("a").allowed).toBe(false);
    expect(rl.check("b")).toMatchObject({ allowed: true, remaining: 99 });
  });

  test("RateLimit-* and Retry-After headers from a decision", () => {
    const { rl } = seedLimiter();
    expect(rateLimitHeaders(rl.check("x"))).toEqual({ "ratelimit-limit": "100", "ratelimit-remaining": "99", "ratelimit-reset": "1" });
    for (let i = 0; i < 99; i++) rl.check("x");
    expect(rateLimitHeaders(rl.check("x"))).toMatchObject({ "ratelimit-remaining": "0", "retry-after": "1", "ratelimit-reset": "60" });
  });

  test("a million distinct clients stay within maxKeys", () => {
    const { rl } = seedLimiter(10_000);
    for (let i = 0; i < 1_000_000; i++) rl.check(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    expect(rl.metrics().trackedKeys).toBeLessThanOrEqual(10_000);
    expect(rl.metrics().evictedActive).toBeGreaterThan(0);
  });

  test("idle clients are dropped before any active one has to be evicted", () => {
    const { clock, rl } = seedLimiter(100_000);
    // 1e6 clients, one request each, 100 new clients per ms: a bucket is full again 600 ms
    // after its request, so ~60,000 keys are active at any time; idle ones must make way.
    for (let i = 0; i < 1_000_000; i++) {
      if (i % 100 === 0) clock.advance(1);
      rl.check(`client-${i}`);
    }
    expect(rl.metrics().evictedActive).toBe(0);
    expect(rl.metrics().trackedKeys).toBeLessThan(100_000);
  });

  test("as a policy it refuses with RateLimitedError (429) carrying Retry-After", async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter({ name: "consul", clock, limitForPeriod: 1, limitRefreshPeriod: 1_000 });
    expect(await rl.execute(() => Promise.resolve("ok"))).toBe("ok");
    const r = await outcome(rl.execute(() => Promise.resolve("no")));
    expect((r as { error: RateLimitedError }).error).toMatchObject({ httpStatus: 429, code: "RATE_LIMITED", retryAfterMs: 1_000 });
  });

  test("as a policy it may wait up to timeoutDuration for a token", async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter({ clock, limitForPeriod: 1, limitRefreshPeriod: 1_000, timeoutDuration: 1_000 });
    await rl.execute(() => Promise.resolve("first"));
    const second = rl.execute(() => Promise.resolve("second"));
    await Promise.resolve();
    clock.advance(1_000);
    expect(await second).toBe("second");
  });
});
