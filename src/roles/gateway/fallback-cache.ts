import type { RawLines } from "../../transport/http1/raw-lines.ts";
import { WireFields, WireResponse } from "../../transport/http1/wire-response.ts";

/** A response kept for the fallback: small, complete, and not older than cacheTimeout. */
interface Cached {
  status: number;
  /** The received head (shared, never written to), or the reason phrase. */
  head: RawLines | string;
  /** Its fields as they were when kept. */
  fields: WireFields;
  body: Uint8Array;
  storedAtMs: number;
  /** When it last moved to the end of the eviction order (see `keep`). */
  placedAtMs: number;
}

/** A key stored again sooner than this after it last moved keeps its place in the eviction order. */
const REORDER_MS = 1000;

/**
 * Seed §3 at the gateway: the last good answer to a GET per (user, URL), served
 * with `X-Fallback: cache` when the upstream fails or is cut off by its breaker.
 * Works on both response forms: a fetch `Response` (Bun.serve front) and the
 * pooled client's `WireResponse` (raw front), which is kept without a copy.
 */
export class ResponseFallbackCache {
  private readonly entries = new Map<string, Cached>();

  constructor(private readonly ttlMs: number, private readonly maxEntries = 10_000, readonly maxBodyBytes = 64 * 1024) {}

  /** Whether a response may be kept: a complete, small 200 without Set-Cookie. */
  cacheable(res: Response | WireResponse): boolean {
    if (res.status !== 200) return false;
    if (res instanceof WireResponse && res.bytes === null) return false;
    const len = res.headers.get("content-length");
    return len !== null && Number(len) <= this.maxBodyBytes && !res.headers.has("set-cookie");
  }

  /** Keeps a WireResponse's status, fields and bytes (the bytes are never written to, so no copy). */
  storeWire(key: string, res: WireResponse, nowMs: number): void {
    this.keep(key, { status: res.status, head: res.rawHead ?? res.statusText, fields: res.headers.copy(), body: res.bytes!, storedAtMs: nowMs, placedAtMs: nowMs });
  }

  /** Reads a Response's body to keep it; returns a Response with the same body for the caller to send. */
  async store(key: string, res: Response, nowMs: number): Promise<Response> {
    const body = new Uint8Array(await res.arrayBuffer());
    const fields: string[] = [];
    for (const [name, value] of res.headers) fields.push(name, value);
    this.keep(key, { status: res.status, head: res.statusText, fields: new WireFields(null, fields), body, storedAtMs: nowMs, placedAtMs: nowMs });
    return new Response(body, { status: res.status, headers: res.headers });
  }

  /**
   * Oldest-stored goes first when full. A key stored again within REORDER_MS keeps its place
   * (its entry is replaced where it stands): moving it to the end means a delete and a new
   * slot, and a JSC Map holds every deleted entry (here: a response and its bytes) until it
   * rehashes, so moving it on every GET kept thousands of old answers alive through
   * young-generation collections (docs/http-transport.md "Garbage").
   */
  private keep(key: string, entry: Cached): void {
    const entries = this.entries;
    const had = entries.get(key);
    if (had !== undefined && entry.placedAtMs - had.placedAtMs < REORDER_MS) {
      entry.placedAtMs = had.placedAtMs;
      entries.set(key, entry);
      return;
    }
    if (had !== undefined) entries.delete(key);
    else if (entries.size >= this.maxEntries) entries.delete(entries.keys().next().value!);
    entries.set(key, entry);
  }

  private fresh(key: string, nowMs: number): Cached | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (nowMs - hit.storedAtMs > this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return hit;
  }

  lookup(key: string, nowMs: number): Response | undefined {
    const hit = this.fresh(key, nowMs);
    if (!hit) return undefined;
    const headers = new Headers();
    const fields = hit.fields.fields;
    for (let i = 0; i < fields.length; i += 2) headers.append(fields[i]!, fields[i + 1]!);
    headers.set("x-fallback", "cache");
    headers.set("age", String(Math.floor((nowMs - hit.storedAtMs) / 1000)));
    return new Response(hit.body.slice(), { status: hit.status, headers });
  }

  lookupWire(key: string, nowMs: number): WireResponse | undefined {
    const hit = this.fresh(key, nowMs);
    if (!hit) return undefined;
    const res = new WireResponse(hit.status, hit.head, hit.fields.copy(), hit.body);
    res.headers.set("x-fallback", "cache");
    res.headers.set("age", String(Math.floor((nowMs - hit.storedAtMs) / 1000)));
    return res;
  }

  get size(): number {
    return this.entries.size;
  }
}
