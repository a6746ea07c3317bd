// The gateway's former fetch() upstream path, kept only as this bench's baseline (src has one
// request path: the pooled HTTP/1.1 client). Header rules as the gateway applied them then.
import { UpstreamError } from "../src/platform/errors.ts";
import { FlatHeaders } from "../src/transport/http1/flat-headers.ts";
import type { ProxyOptions, ProxyTarget } from "../src/transport/http-proxy.ts";
import type { InboundRequest, UrlParts } from "../src/transport/inbound.ts";

const HOP_BY_HOP = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "proxy-connection"];

function isAbort(err: unknown): boolean {
  return (err as Error)?.name === "AbortError" || (err as Error)?.name === "TimeoutError";
}

export async function proxyFetch(req: InboundRequest, url: UrlParts, target: ProxyTarget, opts: ProxyOptions): Promise<Response> {
  const headers = req.headers instanceof FlatHeaders ? req.headers.toHeaders() : new Headers(req.headers as Headers);
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
  // fetch's response headers are mutable in Bun: strip in place, no second Headers or Response
  const out = upstream.headers;
  for (const h of HOP_BY_HOP) if (out.has(h)) out.delete(h);
  return upstream;
}

