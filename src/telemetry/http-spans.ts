import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from "@opentelemetry/api";
import { extractContext, formatTraceparent, injectContext, isSampledOutTraceparent, setHeader, TRACEPARENT, TRACESTATE, type Carrier, type HeaderRecord } from "./propagation.ts";
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_CORRELATION_ID,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_PEER_SERVICE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
} from "./semconv.ts";
import { declareLeafRole, endSpan, failSpan, followsSampledOutParents, isLeafRole, NOOP_SPAN, preSample, runInSpan, startSpan, tracingEnabled } from "./tracing.ts";

const CORRELATION_HEADER = "x-correlation-id";
/** Probes and scrapes would bury real traces; they get no spans. */
const UNTRACED_PATHS = new Set(["/health", "/metrics"]);

export interface HttpServerSpanOptions {
  role: string;
  /** A Request, or the raw front's equivalent: headers as Headers or a record with lowercase names; not read when `parent` is given. */
  request: { readonly method: string; readonly url: string; readonly headers?: Headers | HeaderRecord };
  /** The caller's trace context when the front has extracted it already (extractContext); default: read from request.headers. */
  parent?: Context;
  /** The request path when the caller has it already (else read from request.url). */
  path?: string;
  /** Route template (`/api/tasks/:id`) when known before handling; else set it later with setHttpRoute. */
  route?: string;
  clientAddress?: string;
}

/**
 * Runs `handle` inside a SERVER span continuing the caller's W3C trace: named
 * `METHOD /route/template`, http.* attributes, status from the response (5xx →
 * ERROR). The span ends when the response head is ready. Off: `handle()` as is.
 */
/** What a server span reads of the response: a fetch Response, or the raw front's WireResponse. */
type SpanResponse = { readonly status: number; readonly headers: { get(name: string): string | null } };

export function withHttpServerSpan<R extends SpanResponse>(opts: HttpServerSpanOptions, handle: () => R | Promise<R>): R | Promise<R> {
  if (!tracingEnabled) return handle();
  const parent = opts.parent ?? (opts.request.headers ? extractContext(opts.request.headers) : ROOT_CONTEXT);
  const span = startHttpServerSpan(opts, parent);
  // not recorded: nothing to end, so no promise to wait on; the context goes on for outgoing calls
  if (!span.isRecording()) return runInSpan(span, handle, parent);
  let out: R | Promise<R>;
  try {
    out = runInSpan(span, handle, parent);
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
  if (!(out instanceof Promise)) {
    endServerSpan(span, out);
    return out;
  }
  return out.then(
    (res) => {
      endServerSpan(span, res);
      return res;
    },
    (err) => {
      endSpan(span, err);
      throw err;
    },
  );
}

/**
 * The SERVER span `withHttpServerSpan` makes, for a handler that answers later through a
 * callback (the gateway's direct path): run the synchronous part with `runInSpan(span, …)`
 * so child spans belong to it, and end it with `endHttpServerSpan`. Off: NOOP_SPAN.
 */
export function startHttpServerSpan(opts: HttpServerSpanOptions, parent: Context = opts.parent ?? (opts.request.headers ? extractContext(opts.request.headers) : ROOT_CONTEXT)): Span {
  if (!tracingEnabled) return NOOP_SPAN;
  const pre = preSample(parent, opts.role);
  if (typeof pre === "object") return pre;
  const { request, role, route } = opts;
  const path = opts.path ?? pathOf(request.url);
  // the attributes that answer "which request, which route, what outcome"; each one costs on
  // every span (record, serialize, ship), so host, port, scheme and user agent stay out
  const attributes: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: request.method, [ATTR_URL_PATH]: path };
  if (route) attributes[ATTR_HTTP_ROUTE] = route;
  if (opts.clientAddress) attributes[ATTR_CLIENT_ADDRESS] = opts.clientAddress;
  return startSpan(route ? `${request.method} ${route}` : request.method, { role, parent, kind: SpanKind.SERVER, attributes, freshAttributes: true, traceId: pre });
}

/** Ends a span from `startHttpServerSpan` with the response sent (status, correlation id; 5xx → ERROR). */
export function endHttpServerSpan(span: Span, res: SpanResponse): void {
  if (span === NOOP_SPAN) return;
  endServerSpan(span, res);
}

function endServerSpan(span: Span, res: SpanResponse): void {
  if (!span.isRecording()) return;
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.status);
  const cid = res.headers.get(CORRELATION_HEADER);
  if (cid) span.setAttribute(ATTR_CORRELATION_ID, cid);
  // server spans: only 5xx is the server's failure (semantic conventions)
  if (res.status >= 500) {
    span.setAttribute(ATTR_ERROR_TYPE, String(res.status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/** The path of an absolute request URL, without parsing all of it (a URL object per request adds up). */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  let end = url.length;
  const q = url.indexOf("?", start);
  if (q >= 0) end = q;
  const h = url.indexOf("#", start);
  if (h >= 0 && h < end) end = h;
  return url.slice(start, end);
}

/** Names the active server span after its route template once routing has matched. */
export function setHttpRoute(method: string, route: string | undefined): void {
  if (!tracingEnabled || !route) return;
  const span = trace.getSpan(context.active());
  if (!span?.isRecording()) return;
  span.updateName(`${method} ${route}`);
  span.setAttribute(ATTR_HTTP_ROUTE, route);
}

/**
 * Elysia's higher-order `wrap` hook: a server span around every request of an app
 * (health and metrics excepted). Install only while tracing is on.
 */
export function elysiaServerSpans(role: string) {
  return (fn: (request: Request) => unknown, request: Request) =>
    (req: Request) => {
      const path = pathOf(request.url);
      if (UNTRACED_PATHS.has(path)) return fn(req);
      const headers = request.headers;
      const traceparent = headers.get(TRACEPARENT);
      // a sampled-out caller in a role that calls no one while serving: nothing here would read the context
      if (traceparent !== null && isLeafRole(role) && followsSampledOutParents() && isSampledOutTraceparent(traceparent)) return fn(req);
      const parent = traceparent === null ? ROOT_CONTEXT : extractContext(headers);
      return withHttpServerSpan({ role, request, path, parent }, () => fn(req) as Response | Promise<Response>);
    };
}

export { declareLeafRole };

export interface HttpClientSpanOptions {
  /** The logical upstream (discovery name), e.g. `task-service`. */
  service: string;
  method: string;
  /** Where the request goes. */
  address: string;
  port: number;
  /** Route template of the request, for the span name (`GET /api/tasks/:id`). */
  route?: string;
  /** 1 for the first retry, 2 for the second… (semconv http.request.resend_count); 0 or omitted for the first try. */
  resendCount?: number;
}

/**
 * Starts a CLIENT span for one upstream attempt, as a child of the active span: a retry
 * is a second sibling. Pair it with injectTraceHeaders(headers, span) and endHttpClientSpan.
 * Off: NOOP_SPAN.
 */
export function startHttpClientSpan(o: HttpClientSpanOptions): Span {
  if (!tracingEnabled) return NOOP_SPAN;
  const parent = context.active();
  const pre = preSample(parent);
  if (typeof pre === "object") return pre;
  const attributes: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: o.method, [ATTR_SERVER_ADDRESS]: o.address, [ATTR_SERVER_PORT]: o.port, [ATTR_PEER_SERVICE]: o.service };
  if (o.resendCount) attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = o.resendCount;
  return startSpan(o.route ? `${o.method} ${o.route}` : o.method, { parent, kind: SpanKind.CLIENT, attributes, freshAttributes: true, traceId: pre });
}

/**
 * Writes traceparent/tracestate for `span` (default: the active span) into outgoing
 * headers (Headers, a plain record, or gRPC Metadata). Off: nothing, so a proxied
 * client's own traceparent passes through untouched.
 */
export function injectTraceHeaders(carrier: Carrier, span?: Span): void {
  if (!tracingEnabled || span === NOOP_SPAN) return;
  if (!span) {
    injectContext(context.active(), carrier);
    return;
  }
  // straight from the span: no context to build for one header
  const sc = span.spanContext();
  setHeader(carrier, TRACEPARENT, formatTraceparent(sc));
  const state = sc.traceState?.serialize();
  if (state) setHeader(carrier, TRACESTATE, state);
}

/** Ends an upstream attempt's span with the status it got (client spans: 4xx and 5xx are errors) or the error it threw. */
export function endHttpClientSpan(span: Span, outcome: { status: number } | { error: unknown }): void {
  if (span === NOOP_SPAN || !span.isRecording()) return;
  if ("error" in outcome) {
    failSpan(span, outcome.error);
  } else {
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, outcome.status);
    if (outcome.status >= 400) {
      span.setAttribute(ATTR_ERROR_TYPE, String(outcome.status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
}
