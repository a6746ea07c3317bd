import type { Http1Client } from "./http1/client.ts";
import type { Http1RequestInit } from "./http1/types.ts";
import { FlatHeaders } from "./http1/flat-headers.ts";
import { connectionOptions, HOP_BY_HOP_NAMES } from "./http1/hop-by-hop.ts";
import { NameSet, type RawLines } from "./http1/raw-lines.ts";
import type { WireResponse } from "./http1/wire-response.ts";
import type { ExchangeSink } from "./http1/exchange.ts";
import type { InboundRequest, UrlParts } from "./inbound.ts";


export interface ProxyTarget {
  address: string;
  port: number;
}

export interface ProxyOptions {
  /** Headers to set on the upstream request (after stripping). */
  setHeaders?: Record<string, string>;
  /** Incoming headers to drop, lower-case (e.g. the identity header clients must not forge). */
  stripHeaders?: readonly string[];
  signal?: AbortSignal;
  clientIp?: string;
  /** The body to send instead of the request's own stream (a buffered copy for retries). */
  body?: ArrayBuffer | Uint8Array | ReadableStream | null;
  /** No response head within this long → 504 (the pooled client's own deadline timer). */
  timeoutMs?: number;
  timeoutLabel?: string;
  /** false keeps this request off upstream pipelining (an answer that may stream long, e.g. SSE). */
  pipeline?: boolean;
}

/**
 * Forwards one request to one instance over the pooled HTTP/1.1 client, streaming both
 * bodies (SSE and chunked uploads pass through unbuffered). Connection failures → 502,
 * timeouts → 504. Not async: the client's own promise, no extra wrapping per request.
 */
export function proxyRequest(client: Http1Client, req: InboundRequest, url: UrlParts, target: ProxyTarget, opts: ProxyOptions = {}): Promise<Response> {
  try {
    return client.request(target, http1Init(req, url, opts));
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The same over the pooled client, resolving with its WireResponse (for the raw front to write as it is). */
export function proxyRequestWire(client: Http1Client, req: InboundRequest, url: UrlParts, target: ProxyTarget, opts: ProxyOptions = {}): Promise<WireResponse> {
  try {
    return client.requestWire(target, http1Init(req, url, opts));
  } catch (err) {
    return Promise.reject(err);
  }
}

/** The same, with the response (or the failure) handed to `sink` from the client's socket callbacks: no promise. */
export function proxyWireTo(client: Http1Client, req: InboundRequest, url: UrlParts, target: ProxyTarget, opts: ProxyOptions, sink: ExchangeSink): void {
  let init: Http1RequestInit;
  try {
    init = http1Init(req, url, opts);
  } catch (err) {
    sink.failed(err);
    return;
  }
  client.requestWireTo(target, init, sink);
}

/**
 * The gateway's forwarding policy for request fields, in one place: hop-by-hop fields
 * (`HOP_BY_HOP`) and those the request's Connection names never cross; Host and the
 * X-Forwarded-Host/Proto we set ourselves are replaced; `stripHeaders` (the identity
 * fields clients must not forge) are dropped; `setHeaders` replace any same-named field;
 * X-Forwarded-For is extended with the client's address. Responses lose their hop-by-hop
 * fields (and those their Connection names) as their head is parsed (`response-head.ts`).
 */
const DROP_ON_FORWARD = new NameSet([...HOP_BY_HOP_NAMES, "host", "x-forwarded-host", "x-forwarded-proto"]);

/** A field (lower-case name) the upstream may see: not hop-by-hop or ours, not stripped, not named in Connection. */
function passes(name: string, strip: readonly string[] | undefined, named: string[] | undefined, set: Record<string, string> | undefined): boolean {
  return !(DROP_ON_FORWARD.has(name) || (strip !== undefined && strip.includes(name)) || (named !== undefined && named.includes(name)) || (set !== undefined && Object.hasOwn(set, name)));
}

/** Received line `i` is named one of `names` (lower-case). */
function namedIn(raw: RawLines, i: number, names: readonly string[] | undefined): boolean {
  if (names !== undefined) for (const name of names) if (raw.nameIs(i, name)) return true;
  return false;
}

/**
 * The request for the pooled HTTP/1.1 client: one pass over the incoming fields
 * into a flat array; hop-by-hop response fields are dropped while the response
 * head is parsed (no second Headers copy, no second Response).
 */
function http1Init(req: InboundRequest, url: UrlParts, opts: ProxyOptions): Http1RequestInit {
  const strip = opts.stripHeaders;
  const set = opts.setHeaders;
  const flat: string[] = [];
  let forwardedFor: string | undefined;
  const given = opts.body;
  const body = given !== undefined ? (given instanceof ArrayBuffer ? new Uint8Array(given) : given) : req.method !== "GET" && req.method !== "HEAD" ? req.body : null;
  const received = req.headers instanceof FlatHeaders ? req.headers.received : null;
  let relay: Http1RequestInit["relay"];
  if (received !== null && (body === null || body instanceof Uint8Array)) {
    // the raw front read the head in place: the lines that may cross go on as bytes (the body's framing is the client's)
    const named = connectionOptions(req.headers.get("connection"));
    const ours = set === undefined ? undefined : Object.keys(set);
    const lines: number[] = [];
    for (let i = 0; i < received.count; i++) {
      if (DROP_ON_FORWARD.hasLine(received, i) || received.nameIs(i, "content-length") || namedIn(received, i, strip) || namedIn(received, i, named) || namedIn(received, i, ours)) continue;
      if (received.nameIs(i, "x-forwarded-for")) forwardedFor = forwardedFor === undefined ? received.value(i) : `${forwardedFor}, ${received.value(i)}`;
      else lines.push(i);
    }
    relay = { raw: received, lines };
  } else if (req.headers instanceof FlatHeaders) {
    // the raw front's fields: lower-case names already, one pass, no Headers at all
    const fields = req.headers.fields;
    const named = connectionOptions(req.headers.get("connection"));
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      if (!passes(name, strip, named, set)) continue;
      if (name === "x-forwarded-for") forwardedFor = forwardedFor === undefined ? fields[i + 1]! : `${forwardedFor}, ${fields[i + 1]!}`;
      else flat.push(name, fields[i + 1]!);
    }
  } else {
    // toJSON is several times cheaper than iterating a Headers in Bun; names come lower-cased.
    const incoming = (req.headers as Headers).toJSON() as Record<string, string | string[]>;
    const connection = incoming["connection"];
    const named = connectionOptions(typeof connection === "string" ? connection : undefined);
    for (const name in incoming) {
      if (!passes(name, strip, named, set)) continue;
      const value = incoming[name]!;
      if (name === "x-forwarded-for") forwardedFor = typeof value === "string" ? value : value.join(", ");
      else if (typeof value === "string") flat.push(name, value);
      else for (const v of value) flat.push(name, v);
    }
  }
  const ip = opts.clientIp;
  if (ip) flat.push("x-forwarded-for", forwardedFor ? `${forwardedFor}, ${ip}` : ip);
  else if (forwardedFor) flat.push("x-forwarded-for", forwardedFor);
  flat.push("x-forwarded-host", url.host, "x-forwarded-proto", url.protocol === "https:" ? "https" : "http");
  if (set !== undefined) for (const name in set) flat.push(name, set[name]!);

  return { method: req.method, path: url.pathname + url.search, headers: flat, relay, body, signal: opts.signal, stripHopByHop: true, timeoutMs: opts.timeoutMs, timeoutLabel: opts.timeoutLabel, pipeline: opts.pipeline };
}
