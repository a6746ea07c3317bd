import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../../src/platform/clock.ts";
import { RateLimitedError } from "../../../src/resilience/errors.ts";
import type { RateAlgorithmName } from "../../../src/resilience/rate-algorithms/index.ts";
import { RateLimiter, rateLimitHeaders } from "../../../src/resilience/rate-limiter.ts";
import { outcome } from "./helpers.ts";

function seedLimiter(maxKeys = 100_000, algorithm: RateAlgorithmName = "gcra") {
  const clock = new FakeClock();
  return { clock, rl: new RateLimiter({ name: "gateway", clock, limitForPeriod: 100, limitRefreshPeriod: 60_000, maxKeys, algorithm }) };
}

describe("fixed window (the default; seed: rate-limiter-flexible points 100, duration 60)", () => {
  test("the 101st request inside the window is refused until the window ends", () => {
    const { clock, rl } = seedLimiter(100_000, "fixed_window");
    for (let i = 0; i < 100; i++) {
      expect(rl.check("1.2.3.4")).toMatchObject({ allowed: true, remaining: 99 - i });
      clock.advance(100);
    }
    // 10 s into the window: 50 s left
    expect(rl.check("1.2.3.4")).toEqual({ allowed: false, limit: 100, remaining: 0, resetMs: 50_000, retryAfterMs: 50_000, windowMs: 60_000 });
    clock.advance(49_999);
    expect(rl.check("1.2.3.4")).toMatchObject({ allowed: false, retryAfterMs: 1 });
    clock.advance(1);
    expect(rl.check("1.2.3.4")).toMatchObject({ allowed: true, remaining: 99, resetMs: 60_000 });
  });

  test("the window starts at the key's first request, not at a clock boundary", () => {
    const { clock, rl } = seedLimiter(100_000, "fixed_window");
    rl.check("a");
    clock.advance(59_000);
    // "b" starts its own window now; 99 more for it, and "a" is refused for its last second only
    for (let i = 0; i < 99; i++) rl.check("a");
    expect(rl.check("a")).toMatchObject({ allowed: false, retryAfterMs: 1_000 });
    for (let i = 0; i < 100; i++) expect(rl.check("b").allowed).toBe(true);
    clock.advance(1_000);
    expect(rl.check("a")).toMatchObject({ allowed: true, remaining: 99 });
    expect(rl.check("b")).toMatchObject({ allowed: false, retryAfterMs: 59_000 });
  });

  test("headers: Retry-After and RateLimit-Reset are the seconds to the window's end", () => {
    const { clock, rl } = seedLimiter(100_000, "fixed_window");
    expect(rateLimitHeaders(rl.check("x"))).toEqual({ "ratelimit-limit": "100", "ratelimit-remaining": "99", "ratelimit-reset": "60", "ratelimit-policy": "100;w=60" });
    for (let i = 0; i < 99; i++) rl.check("x");
    clock.advance(20_500);
    expect(rateLimitHeaders(rl.check("x"))).toEqual({ "ratelimit-limit": "100", "ratelimit-remaining": "0", "ratelimit-reset": "40", "ratelimit-policy": "100;w=60", "retry-after": "40" });
  });

  test("idle keys are dropped once their window has ended", () => {
    const { clock, rl } = seedLimiter(100_000, "fixed_window");
    for (let i = 0; i < 1000; i++) rl.check(`k${i}`);
    clock.advance(60_000);
    for (let i = 0; i < 1000; i++) rl.check(`n${i}`);
    expect(rl.metrics().trackedKeys).toBe(1000);
    expect(rl.metrics().evictedActive).toBe(0);
  });
});

describe("sliding window counter", () => {
  test("the 101st request inside the first window is refused", () => {
    const { rl } = seedLimiter(100_000, "sliding_window");
    for (let i = 0; i < 100; i++) expect(rl.check("c")).toMatchObject({ allowed: true, remaining: 99 - i });
    // nothing to slide out before the next window, and then the previous 100 weigh (60 − e)/60: one fits after 0.6 s
    expect(rl.check("c")).toMatchObject({ allowed: false, retryAfterMs: 60_600 });
  });

  test("the previous window weighs by its overlap with the last 60 s", () => {
    const { clock, rl } = seedLimiter(100_000, "sliding_window");
    for (let i = 0; i < 100; i++) rl.check("c");
    clock.advance(60_000 + 30_000);
    // half of the previous window still overlaps: 50 count, 50 more fit
    let allowed = 0;
    for (let i = 0; i < 80; i++) if (rl.check("c").allowed) allowed++;
    expect(allowed).toBe(50);
    // one more fits when the previous window's weight drops by one request: after 0.6 s
    expect(rl.check("c")).toMatchObject({ allowed: false, retryAfterMs: 600 });
    clock.advance(599);
    expect(rl.check("c").allowed).toBe(false);
    clock.advance(1);
    expect(rl.check("c").allowed).toBe(true);
  });

  test("after two silent windows the key starts afresh", () => {
    const { clock, rl } = seedLimiter(100_000, "sliding_window");
    for (let i = 0; i < 100; i++) rl.check("c");
    clock.advance(120_000);
    let allowed = 0;
    for (let i = 0; i < 150; i++) if (rl.check("c").allowed) allowed++;
    expect(allowed).toBe(100);
  });
});

describe("GCRA (token bucket refilled continuously)", () => {
  test("allows exactly 100 at once, refuses the 101st with the wait for one token", () => {
    const { rl } = seedLimiter();
    for (let i = 0; i < 100; i++) {
      const d = rl.check("1.2.3.4");
      expect(d.allowed).toBe(true);
      expect(d.remaining).toBe(99 - i);
    }
    expect(rl.check("1.2.3.4")).toEqual({ allowed: false, limit: 100, remaining: 0, resetMs: 60_000, retryAfterMs: 600, windowMs: 60_000 });
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
    expect(rateLimitHeaders(rl.check("x"))).toEqual({ "ratelimit-limit": "100", "ratelimit-remaining": "99", "ratelimit-reset": "1", "ratelimit-policy": "100;w=60" });
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
