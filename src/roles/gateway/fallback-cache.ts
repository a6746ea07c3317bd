/** A response kept for the fallback: small, complete, and not older than cacheTimeout. */
interface Cached {
  status: number;
  headers: [string, string][];
  body: ArrayBuffer;
  storedAtMs: number;
}

/**
 * Seed §3 at the gateway: the last good answer to a GET per (user, URL), served
 * with `X-Fallback: cache` when the upstream fails or is cut off by its breaker.
 */
export class ResponseFallbackCache {
  private readonly entries = new Map<string, Cached>();

  constructor(private readonly ttlMs: number, private readonly maxEntries = 10_000, readonly maxBodyBytes = 64 * 1024) {}

  /** Whether a response may be kept: a complete, small 200 without Set-Cookie. */
  cacheable(res: Response): boolean {
    if (res.status !== 200) return false;
    const len = res.headers.get("content-length");
    return len !== null && Number(len) <= this.maxBodyBytes && !res.headers.has("set-cookie");
  }

  async store(key: string, res: Response, nowMs: number): Promise<Response> {
    const body = await res.arrayBuffer();
    const headers = [...res.headers];
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.delete(key);
    this.entries.set(key, { status: res.status, headers, body, storedAtMs: nowMs });
    return new Response(body, { status: res.status, headers });
  }

  lookup(key: string, nowMs: number): Response | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (nowMs - hit.storedAtMs > this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    const res = new Response(hit.body.slice(0), { status: hit.status, headers: hit.headers });
    res.headers.set("x-fallback", "cache");
    res.headers.set("age", String(Math.floor((nowMs - hit.storedAtMs) / 1000)));
    return res;
  }

  get size(): number {
    return this.entries.size;
  }
}
