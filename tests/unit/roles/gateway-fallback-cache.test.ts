import { describe, expect, test } from "bun:test";
import { ResponseFallbackCache } from "../../../src/roles/gateway/fallback-cache.ts";

const answer = (body: string) => new Response(body, { status: 200, headers: { "content-type": "text/plain", "content-length": String(body.length) } });

async function bodyOf(cache: ResponseFallbackCache, key: string, now: number): Promise<string | undefined> {
  const hit = cache.lookup(key, now);
  return hit === undefined ? undefined : await hit.text();
}

describe("the gateway's fallback cache", () => {
  test("storing a key it holds again evicts nothing, even when full", async () => {
    const cache = new ResponseFallbackCache(60_000, 2);
    await cache.store("a", answer("a1"), 0);
    await cache.store("b", answer("b1"), 0);
    await cache.store("b", answer("b2"), 10);
    expect(cache.size).toBe(2);
    expect(await bodyOf(cache, "a", 20)).toBe("a1");
    expect(await bodyOf(cache, "b", 20)).toBe("b2");
  });

  test("a key stored again within a second keeps its place in the eviction order (its answer is the new one)", async () => {
    const cache = new ResponseFallbackCache(60_000, 2);
    await cache.store("a", answer("a1"), 0);
    await cache.store("b", answer("b1"), 0);
    await cache.store("a", answer("a2"), 500);
    await cache.store("c", answer("c1"), 600);
    expect(await bodyOf(cache, "a", 700)).toBeUndefined();
    expect(await bodyOf(cache, "b", 700)).toBe("b1");
    expect(await bodyOf(cache, "c", 700)).toBe("c1");
  });

  test("a key stored again a second or more after it last moved goes to the end: the oldest other key is evicted", async () => {
    const cache = new ResponseFallbackCache(60_000, 2);
    await cache.store("a", answer("a1"), 0);
    await cache.store("b", answer("b1"), 0);
    await cache.store("a", answer("a2"), 400); // keeps its place
    await cache.store("a", answer("a3"), 1000); // a second after it was placed: moves
    await cache.store("c", answer("c1"), 1100);
    expect(await bodyOf(cache, "a", 1200)).toBe("a3");
    expect(await bodyOf(cache, "b", 1200)).toBeUndefined();
    expect(await bodyOf(cache, "c", 1200)).toBe("c1");
  });

  test("the age and the time-out count from the latest store, whatever its place", async () => {
    const cache = new ResponseFallbackCache(1_000, 10);
    await cache.store("a", answer("a1"), 0);
    await cache.store("a", answer("a2"), 900); // keeps its place, fresh again
    const hit = cache.lookup("a", 1800);
    expect(hit?.headers.get("x-fallback")).toBe("cache");
    expect(await hit?.text()).toBe("a2");
    expect(cache.lookup("a", 1901)).toBeUndefined();
  });
});
