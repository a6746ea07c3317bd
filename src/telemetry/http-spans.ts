import { context, SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import { extractContext, injectContext, type Carrier } from "./propagation.ts";
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
  ATTR_UPSTREAM_INSTANCE,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from "./semconv.ts";
import { endSpan, failSpan, NOOP_SPAN, runInSpan, startSpan, tracingEnabled } from "./tracing.ts";

const CORRELATION_HEADER = "x-correlation-id";
/** Probes and scrapes would bury real traces; they get no spans. */
const UNTRACED_PATHS = new Set(["/health", "/metrics"]);

export interface HttpServerSpanOptions {
  role: string;
  request: Request;
  /** The parsed request URL when the caller has it already. */
  url?: URL;
  /** Route template (`/api/tasks/:id`) when known before handling; else set it later with setHttpRoute. */
  route?: string;
  clientAddress?: string;
}

/**
 * Runs `handle` inside a SERVER span continuing the caller's W3C trace: named
 * `METHOD /route/template`, http.* attributes, status from the response (5xx →
 * ERROR). The span ends when the response head is ready. Off: `handle()` as is.
 */
export function withHttpServerSpan(opts: HttpServerSpanOptions, handle: () => Response | Promise<Response>): Response | Promise<Response> {
  if (!tracingEnabled) return handle();
  const { request, role, route } = opts;
  const url = opts.url ?? new URL(request.url);
  const parent = extractContext(request.headers);
  const span = startSpan(route ? `${request.method} ${route}` : request.method, {
    role,
    parent,
    kind: SpanKind.SERVER,
    attributes: {
      [ATTR_HTTP_REQUEST_METHOD]: request.method,
      [ATTR_URL_PATH]: url.pathname,
      [ATTR_URL_SCHEME]: url.protocol.slice(0, -1),
      [ATTR_SERVER_ADDRESS]: url.hostname,
      [ATTR_SERVER_PORT]: Number(url.port) || (url.protocol === "https:" ? 443 : 80),
      ...(route ? { [ATTR_HTTP_ROUTE]: route } : {}),
      ...(opts.clientAddress ? { [ATTR_CLIENT_ADDRESS]: opts.clientAddress } : {}),
      ...userAgent(request),
    },
  });
  let out: Response | Promise<Response>;
  try {
    out = runInSpan(span, handle, parent);
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
  if (out instanceof Response) {
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

function userAgent(request: Request): Record<string, string> {
  const ua = request.headers.get("user-agent");
  return ua ? { [ATTR_USER_AGENT_ORIGINAL]: ua } : {};
}

function endServerSpan(span: Span, res: Response): void {
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
  return (fn: (...args: unknown[]) => unknown, request: Request) =>
    (...args: unknown[]) => {
      const url = new URL(request.url);
      if (UNTRACED_PATHS.has(url.pathname)) return fn(...args);
      return withHttpServerSpan({ role, request, url }, () => fn(...args) as Response | Promise<Response>);
    };
}

export interface HttpClientSpanOptions {
  /** The logical upstream (discovery name), e.g. `task-service`. */
  service: string;
  method: string;
  /** Where the request goes. */
  address: string;
  port: number;
  /** Path (and query) sent upstream. */
  path?: string;
  /** Route template of the request, for the span name (`GET /api/tasks/:id`). */
  route?: string;
  instanceId?: string;
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
  return startSpan(o.route ? `${o.method} ${o.route}` : o.method, {
    kind: SpanKind.CLIENT,
    attributes: {
      [ATTR_HTTP_REQUEST_METHOD]: o.method,
      [ATTR_SERVER_ADDRESS]: o.address,
      [ATTR_SERVER_PORT]: o.port,
      [ATTR_PEER_SERVICE]: o.service,
      ...(o.path !== undefined ? { [ATTR_URL_FULL]: `http://${o.address}:${o.port}${o.path}` } : {}),
      ...(o.instanceId ? { [ATTR_UPSTREAM_INSTANCE]: o.instanceId } : {}),
      ...(o.resendCount ? { [ATTR_HTTP_REQUEST_RESEND_COUNT]: o.resendCount } : {}),
    },
  });
}

/**
 * Writes traceparent/tracestate for `span` (default: the active span) into outgoing
 * headers (Headers, a plain record, or gRPC Metadata). Off: nothing, so a proxied
 * client's own traceparent passes through untouched.
 */
export function injectTraceHeaders(carrier: Carrier, span?: Span): void {
  if (!tracingEnabled) return;
  if (span === NOOP_SPAN) return;
  const ctx = span ? trace.setSpan(context.active(), span) : context.active();
  injectContext(ctx, carrier);
}

/** Ends an upstream attempt's span with the status it got (client spans: 4xx and 5xx are errors) or the error it threw. */
export function endHttpClientSpan(span: Span, outcome: { status: number } | { error: unknown }): void {
  if (span === NOOP_SPAN) return;
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
