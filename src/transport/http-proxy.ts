import { UpstreamError, UpstreamTimeoutError } from "../platform/errors.ts";

/** Hop-by-hop headers (RFC 9110 §7.6.1) never cross a proxy. */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "proxy-connection"];

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
  body?: ArrayBuffer | ReadableStream | null;
}

function isAbort(err: unknown): boolean {
  return (err as Error)?.name === "AbortError" || (err as Error)?.name === "TimeoutError";
}

/**
 * Forwards one request to one instance, streaming both bodies (SSE and chunked
 * uploads pass through unbuffered). Connection failures → 502, timeouts → 504.
 */
export async function proxyRequest(req: Request, url: URL, target: ProxyTarget, opts: ProxyOptions = {}): Promise<Response> {
  const headers = new Headers(req.headers);
  const connectionTokens = (headers.get("connection") ?? "").split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);
  for (const h of HOP_BY_HOP) headers.delete(h);
  for (const h of connectionTokens) headers.delete(h);
  for (const h of opts.stripHeaders ?? []) headers.delete(h);
  headers.delete("host");
  if (opts.clientIp) {
    const prior = headers.get("x-forwarded-for");
    headers.set("x-forwarded-for", prior ? `${prior}, ${opts.clientIp}` : opts.clientIp);
  }
  headers.set("x-forwarded-host", url.host);
  headers.set("x-forwarded-proto", url.protocol.replace(":", ""));
  for (const [k, val] of Object.entries(opts.setHeaders ?? {})) headers.set(k, val);

  const body = opts.body !== undefined ? opts.body : req.method !== "GET" && req.method !== "HEAD" ? req.body : null;
  let upstream: Response;
  try {
    upstream = await fetch(`http://${target.address}:${target.port}${url.pathname}${url.search}`, {
      method: req.method,
      headers,
      body: body ?? undefined,
      redirect: "manual",
      signal: opts.signal,
      decompress: false,
      duplex: "half",
    });
  } catch (err) {
    // the signal's reason says why: our time limit (504) or the caller going away
    if (opts.signal?.aborted && opts.signal.reason instanceof Error) throw opts.signal.reason;
    if (isAbort(err)) throw err;
    throw new UpstreamError(`upstream ${target.address}:${target.port} failed: ${(err as Error).message}`, err);
  }
  const out = new Headers(upstream.headers);
  for (const h of HOP_BY_HOP) out.delete(h);
  return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: out });
}
