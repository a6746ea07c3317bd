import type { Span } from "@opentelemetry/api";
import type { ServiceBalancers } from "../../balancing/service-balancers.ts";
import type { Lease } from "../../balancing/lease.ts";
import { readStickyCookie, stickyCookie } from "../../balancing/sticky.ts";
import type { AccessLog } from "../../platform/access-log.ts";
import { LEGACY_IDENTITY_HEADERS, type Identity } from "../../platform/auth.ts";
import { BpmError, PayloadTooLargeError } from "../../platform/errors.ts";
import { CORRELATION_HEADER, correlationIdFrom, errorResponse } from "../../platform/http.ts";
import type { Logger } from "../../platform/logger.ts";
import { DEADLINE_HEADER, earliest, readDeadline } from "../../resilience/deadline.ts";
import { RateLimitedError } from "../../resilience/errors.ts";
import { isIdempotentHttp } from "../../resilience/outcome.ts";
import { type RateLimitDecision, rateLimitHeaders, writeRateLimitHeaders } from "../../resilience/rate-limiter.ts";
import { endHttpServerSpan, startHttpServerSpan, withHttpServerSpan } from "../../telemetry/http-spans.ts";
import type { Metrics } from "../../telemetry/metrics.ts";
import type { HeaderRecord } from "../../telemetry/propagation.ts";
import { recordFallback } from "../../telemetry/resilience.ts";
import { runInSpan, traceFields, tracingEnabled } from "../../telemetry/tracing.ts";
import type { DownstreamPolicies } from "../../transport/downstreams.ts";
import { isHttpError } from "../../transport/http1/errors.ts";
import { type Http1Client, WireResponse } from "../../transport/http1/index.ts";
import { type Conn, DEFERRED } from "../../transport/http1/server.ts";
import type { ServerRequest } from "../../transport/http1/server-request.ts";
import type { InboundRequest, UrlParts } from "../../transport/inbound.ts";
import { forward, forwardDirect, type ForwardRequest, type ForwardSink, ForwardState } from "../../transport/resilient-http.ts";
import type { ResponseFallbackCache } from "./fallback-cache.ts";
import { methodVerdict } from "./methods.ts";
import type { AllowedMethods } from "../../platform/method-not-allowed.ts";
import type { GatewayRateLimits } from "./rate-limit.ts";
import { type GatewayRoute, routeTemplate, upstreamPath } from "./routes.ts";
import { versionsFor } from "./versions.ts";

/** Nothing downstream reads these (each role verifies Authorization itself); a forged one is still dropped. */
const STRIPPED = LEGACY_IDENTITY_HEADERS;

/** What the proxy needs, handed in by the gateway's wiring (startGateway). */
export interface GatewayProxyDeps {
  /** The role name for metrics and spans. */
  role: string;
  log: Logger;
  metrics: Metrics;
  balancers: ServiceBalancers;
  /** The policies (breaker, retry, time limiter) guarding a route's calls. */
  policies(route: GatewayRoute): DownstreamPolicies;
  limits: GatewayRateLimits | undefined;
  fallback: ResponseFallbackCache | undefined;
  /** `fallback.defaultResponse` as a maker of responses, when configured. */
  defaultAnswer: (() => Response) | undefined;
  accessLog: AccessLog | undefined;
  upstreamClient: Http1Client;
  sticky: { enabled: boolean; cookie_name: string };
  /** Route templates that are event streams: never pipelined upstream. */
  streamed: ReadonlySet<string>;
  /** The methods each proxied path serves (405/OPTIONS list them). */
  pathMethods: AllowedMethods;
  /** Whole-request budget (a route's `timeout` replaces it); also sent downstream as the deadline. */
  requestTimeoutMs: number;
  bodyLimitBytes: number;
  /** Throws a 401 at once, or answers from the verified-token cache without a promise. */
  authenticate(authorization: string | null): Identity | Promise<Identity> | undefined;
  /** The verified-token cache knows this Authorization (checking it costs no signature). */
  isCached(authorization: string | null): boolean;
  authEnabled: boolean;
}

export interface GatewayProxy {
  /** One request on a proxied route. */
  handle(req: ServerRequest, conn: Conn, route: GatewayRoute): Response | WireResponse | Promise<Response | WireResponse> | typeof DEFERRED;
  /** Requests in flight (the health check's figure). */
  readonly inflight: number;
}

/**
 * The gateway's proxy, its stages in order (each a function below):
 *   method policy (`byMethod`: 405/501/OPTIONS answered here, never forwarded)
 *   → admit (`checkBodyLimit`, auth via `deps.authenticate`, `admit`: rate limit, deadline, our fields)
 *   → balanced attempts (`forwardDirect` / `forward`: breaker, retries, one instance per attempt)
 *   → relay (`answered`, `finishAnswer`, `withOurFields`; `afterForwardFailed` / `failed` on errors)
 *   → account (`ended`: metrics, span, access log — once per request).
 * Two ways through the same stages: `proxyDirect` (callbacks from socket to socket, for whole
 * bodies and known tokens) and `proxyApi` (one async function: streamed bodies, tokens not
 * verified yet, traced requests with streamed bodies).
 */
export function createGatewayProxy(deps: GatewayProxyDeps): GatewayProxy {
  const { role, log, metrics, balancers, limits, fallback, defaultAnswer, accessLog, upstreamClient, sticky, authenticate } = deps;

  const countRequest = (method: string, tpl: string, status: number, seconds: number) => {
    metrics.httpRequests.labels(role, method, tpl, String(status)).inc();
    metrics.httpDuration.labels(role, method, tpl).observe(seconds);
  };
  let inflight = 0;

  /** A response served from the fallback cache: counted, and an event on the request's span. */
  function fromFallback<R extends Response | WireResponse>(cached: R): R {
    recordFallback("gateway", "cache", {}, metrics);
    return cached;
  }
  const fallbackLookup = (key: string, now: number): Response | WireResponse | undefined => fallback!.lookupWire(key, now);

  /** A failed GET's stand-in: its kept response if fresh, else `fallback.defaultResponse`. */
  function standIn(call: ProxyCall): Response | WireResponse | undefined {
    const cached = call.cacheKey !== undefined ? fallbackLookup(call.cacheKey, call.now) : undefined;
    if (cached !== undefined) return fromFallback(cached);
    if (defaultAnswer === undefined || call.req.method !== "GET") return undefined;
    recordFallback("gateway", "default", {}, metrics);
    return defaultAnswer();
  }

  /** A method the route does not serve is answered here (405, 501; OPTIONS 204), counted and logged; never forwarded. */
  function byMethod(call: ProxyCall): Response | undefined {
    // a bpm role's API table names each path's methods; another service's route says them itself
    const own = call.target.bpm ? () => deps.pathMethods.allow(call.publicUrl.pathname) : undefined;
    const verdict = methodVerdict(call.target, call.req.method, own);
    if (verdict.kind === "forward") return undefined;
    const res =
      verdict.kind === "options"
        ? new Response(null, { status: 204, headers: { allow: verdict.allow, [CORRELATION_HEADER]: call.cid } })
        : errorResponse(verdict.error, call.cid, verdict.allow !== undefined ? { allow: verdict.allow } : undefined);
    inflight++;
    ended(call, res);
    return res;
  }
  /**
   * One request on a proxied route: method policy, then the direct path (no promise from the
   * request's head to the upstream's answer being written back) when it can be, else `proxyApi`.
   */
  const handle = (req: ServerRequest, conn: Conn, route: GatewayRoute): Response | WireResponse | Promise<Response | WireResponse> | typeof DEFERRED => {
    const call = new ProxyCall(req, req, route, req.remoteAddress);
    const refused = byMethod(call);
    if (refused !== undefined) return refused;
    // a body still arriving streams through proxyApi; a whole one (or none) goes direct
    const direct = !req.streaming;
    if (tracingEnabled) {
      // the propagator reads two fields: hand it those, not a Headers built from every field
      const headers: HeaderRecord = { traceparent: req.headers.get("traceparent") ?? undefined, tracestate: req.headers.get("tracestate") ?? undefined };
      const spanOptions = { role: role, request: { method: req.method, url: req.pathname, headers }, path: req.pathname, route: call.route, clientAddress: call.clientIp };
      if (!direct) return withHttpServerSpan(spanOptions, () => proxyApi(call));
      // the span is active while the request is sent (the attempt's CLIENT span is its child) and ends in `ended`
      const span = (call.serverSpan = startHttpServerSpan(spanOptions));
      return runInSpan(span, () => proxyDirect(call, req, conn));
    }
    return direct ? proxyDirect(call, req, conn) : proxyApi(call);
  };
  /**
   * One proxied request: auth → rate limit → balanced, resilient upstream call → fallback,
   * sticky cookie and our fields; counted and logged once whatever happens. Its state is one
   * object, shared by the two ways of running it: `proxyDirect` (callbacks, for the raw
   * front) and `proxyApi` (one async function, for everything else).
   */
  class ProxyCall extends ForwardState implements ForwardRequest, ForwardSink {
    readonly started = performance.now();
    readonly cid: string;
    /** Route template: the metrics' and spans' label. */
    readonly route: string;
    readonly stripHeaders = STRIPPED;
    readonly client = upstreamClient;
    /** Responses come back as the pooled client's WireResponse, written to the client as read. */
    readonly wire = true;
    /** An event-stream route is never pipelined upstream (it would hold up the requests behind it). */
    readonly pipeline: boolean;
    setHeaders: Record<string, string> = {};
    deadline = 0;
    idempotent = false;
    stickyId: string | undefined;
    identity: Identity | undefined;
    decision: RateLimitDecision | undefined;
    /** Charged to its client IP already (no verified token when it came in). */
    ipCharged = false;
    /** The path the client asked for (`url` is what the upstream is sent: the route may strip its prefix). */
    readonly publicUrl: UrlParts;
    readonly url: UrlParts;
    /** Instance versions this request may go to, the preferred first; undefined: any. */
    versions: readonly string[] | undefined = undefined;
    /** The fallback cache's key (GETs, when the cache is on). */
    cacheKey: string | undefined;
    /** When the request was admitted (epoch ms): the fallback cache's clock. */
    now = 0;
    res: Response | WireResponse | undefined;
    /** The raw front's connection, on the direct path. */
    conn: Conn | undefined;
    /** The SERVER span of a traced request on the direct path (ended with the request). */
    serverSpan: Span | undefined;

    constructor(
      readonly req: InboundRequest,
      url: UrlParts,
      readonly target: GatewayRoute,
      readonly clientIp: string | undefined,
    ) {
      super();
      this.cid = correlationIdFrom(req.headers);
      this.publicUrl = url;
      this.url = target.stripPrefix ? { pathname: upstreamPath(target, url.pathname), search: url.search, host: url.host, protocol: url.protocol } : url;
      this.route = routeTemplate(target, url.pathname);
      this.pipeline = !target.streamed && !deps.streamed.has(this.route);
    }

    /** A route that rolls back judges each version by its attempts (a retry elsewhere does not hide a failure). */
    attemptEnded(lease: Lease, failed: boolean): void {
      const rollback = this.target.rollback;
      if (rollback !== undefined) rollback.record(lease.instance.version ?? "", failed);
    }

    forwarded(res: WireResponse): void {
      let out: Response | WireResponse;
      try {
        out = answered(this, res) as WireResponse;
      } catch (err) {
        out = failed(this, err);
      }
      this.respond(out);
    }

    forwardFailed(err: unknown): void {
      let out: Response | WireResponse;
      try {
        out = afterForwardFailed(this, err);
      } catch (e) {
        out = failed(this, e);
      }
      this.respond(out);
    }

    private respond(out: Response | WireResponse): void {
      ended(this, out);
      this.conn!.respond(this.req as ServerRequest, out);
    }
  }

  /** A declared body over the limit: 413 before anything else (the token is not even read). */
  function checkBodyLimit(call: ProxyCall): void {
    const len = call.req.headers.get("content-length");
    if (len !== null && Number(len) > deps.bodyLimitBytes) throw new PayloadTooLargeError(deps.bodyLimitBytes);
  }

  /**
   * Charges one request to `key`; the 429 when its limit refuses it. The route's own limit is
   * per client, so only the charge to the request's client counts there (its token's user, or
   * its IP without auth), not the IP pre-charge of a token not verified yet.
   */
  function charge(call: ProxyCall, key: string, client: boolean): Response | undefined {
    const target = call.target;
    const decision = (call.decision = limits!.check(key, target.service, client && target.rateLimit !== undefined ? target.prefix : undefined));
    if (decision.allowed) return undefined;
    return errorResponse(new RateLimitedError("Too many requests", decision.retryAfterMs, decision.limit), call.cid, rateLimitHeaders(decision));
  }

  function chargeIp(call: ProxyCall, client: boolean): Response | undefined {
    call.ipCharged = true;
    return charge(call, `ip:${call.clientIp ?? "unknown"}`, client);
  }

  /**
   * Auth with the rate limit in the order that keeps refusals cheap: a request without a token
   * the verified-token cache knows is charged to its client IP first, and refused there its
   * signature is never checked; a failed auth is charged to the IP too. Returns the early
   * answer (429, 401), or the identity (pending while a new token is verified).
   */
  function authenticateCall(call: ProxyCall): Response | Identity | Promise<Identity> | undefined {
    const authorization = call.req.headers.get("authorization");
    if (limits !== undefined && deps.authEnabled && !deps.isCached(authorization)) {
      const refusal = chargeIp(call, false);
      if (refusal !== undefined) return refusal;
    }
    try {
      return authenticate(authorization);
    } catch (err) {
      return (limits !== undefined && !call.ipCharged ? chargeIp(call, false) : undefined) ?? failed(call, err);
    }
  }

  /** The rate limit (429, returned), then the forward request's fields. `identity` is the verified token's. */
  function admit(call: ProxyCall, identity: Identity | undefined): Response | undefined {
    const headers = call.req.headers;
    call.identity = identity;
    if (limits !== undefined && (identity !== undefined || !call.ipCharged)) {
      const refusal = identity !== undefined ? charge(call, `u:${identity.sub}`, true) : chargeIp(call, true);
      if (refusal !== undefined) return refusal;
    }
    const now = (call.now = Date.now());
    const budget = call.target.timeoutMs ?? deps.requestTimeoutMs;
    call.deadline = earliest(now + budget, readDeadline(headers)) ?? now + budget;
    call.idempotent = isIdempotentHttp(call.req.method, headers);
    if (sticky.enabled) call.stickyId = readStickyCookie(headers.get("cookie"), sticky.cookie_name);
    call.versions = versionsFor(call.target, headers, call.stickyId, balancers);
    const set = call.setHeaders;
    set[CORRELATION_HEADER] = call.cid;
    set[DEADLINE_HEADER] = String(call.deadline);
    // keyed by what the client asked for, and the version it pinned (a pinned v2 never answers from v1's copy)
    if (fallback && call.req.method === "GET") call.cacheKey = `${identity?.sub ?? ""}|${call.versions?.length === 1 ? call.versions[0] : ""}|${call.publicUrl.pathname}${call.publicUrl.search}`;
    return undefined;
  }

  /** The upstream answered: keep it for the fallback (or answer from it on a 5xx), then our cookie and fields. */
  function answered(call: ProxyCall, upstreamRes: Response | WireResponse): Response | WireResponse | Promise<Response | WireResponse> {
    let res = upstreamRes;
    const key = call.cacheKey;
    if (key !== undefined) {
      // cache before adding our own cookie: the kept copy holds only what the upstream said
      if (fallback!.cacheable(res)) {
        if (res instanceof WireResponse) fallback!.storeWire(key, res, call.now);
        else return fallback!.store(key, res, call.now).then((kept) => finishAnswer(call, kept));
      }
    }
    if (res.status >= 500) {
      const substitute = standIn(call);
      if (substitute !== undefined) {
        if (res instanceof WireResponse) res.cancel();
        res = substitute;
      }
    }
    return finishAnswer(call, res);
  }

  function finishAnswer(call: ProxyCall, res: Response | WireResponse): Response | WireResponse {
    const lease = call.lease!;
    if (sticky.enabled && res.headers.get("x-fallback") === null && (call.stickyId === undefined || lease.repinned || lease.stickyId !== call.stickyId)) {
      res.headers.append("set-cookie", stickyCookie(sticky.cookie_name, lease.stickyId));
    }
    return withOurFields(call, res);
  }

  function withOurFields<R extends Response | WireResponse>(call: ProxyCall, res: R): R {
    // an upstream that echoed our correlation id keeps its line (the relayed head stays one block)
    if (res instanceof WireResponse) res.headers.setUnlessSame(CORRELATION_HEADER, call.cid);
    else res.headers.set(CORRELATION_HEADER, call.cid);
    if (call.decision !== undefined) writeRateLimitHeaders(call.decision, res.headers);
    return res;
  }

  /** No answer from any attempt: a kept response for a GET when the failure is ours to cover (5xx), else the error. */
  function afterForwardFailed(call: ProxyCall, err: unknown): Response | WireResponse {
    const substitute = isHttpError(err) && err.httpStatus >= 500 ? standIn(call) : undefined;
    if (substitute === undefined) return failed(call, err);
    return withOurFields(call, substitute);
  }

  /** The error response; an error that is not one of ours is logged (it is a bug or an outage we did not name). */
  function failed(call: ProxyCall, err: unknown): Response {
    const res = errorResponse(err, call.cid);
    if (res.status >= 500 && !(err instanceof BpmError || isHttpError(err))) log.error("gateway request failed", { correlation_id: call.cid, err });
    return res;
  }

  /** Counted and logged, once per request. */
  function ended(call: ProxyCall, res: Response | WireResponse): void {
    call.res = res;
    inflight--;
    const ms = performance.now() - call.started;
    countRequest(call.req.method, call.route, res.status, ms / 1000);
    const span = call.serverSpan;
    if (span !== undefined) endHttpServerSpan(span, res);
    const traceId = span !== undefined ? span.spanContext().traceId : tracingEnabled ? traceFields()?.trace_id : undefined;
    accessLog?.request(call.req.method, call.publicUrl.pathname, res.status, Math.round(ms * 100) / 100, call.lease?.instance.id, call.cid, traceId, call.identity?.sub);
  }

  /** The raw front with the pooled client: the answer is written from the upstream socket's read callback. */
  function proxyDirect(call: ProxyCall, req: ServerRequest, conn: Conn): Response | Promise<Response | WireResponse> | typeof DEFERRED {
    let verified: Identity | Promise<Identity> | undefined;
    let early: Response | undefined;
    try {
      checkBodyLimit(call);
    } catch (err) {
      early = failed(call, err);
    }
    if (early === undefined) {
      const authenticated = authenticateCall(call);
      if (authenticated instanceof Response) early = authenticated;
      else verified = authenticated;
    }
    // a token not seen before is verified asynchronously: that request takes the promise path
    if (verified instanceof Promise) return proxyApi(call, verified);
    inflight++;
    if (early === undefined) {
      try {
        early = admit(call, verified);
      } catch (err) {
        early = failed(call, err);
      }
    }
    if (early !== undefined) {
      ended(call, early);
      return early;
    }
    call.conn = conn;
    const target = call.target;
    forwardDirect(balancers.get(target.service), deps.policies(target), call, req.bytes, call);
    return DEFERRED;
  }

  /** The same as one async function: streamed bodies, tokens not verified yet, tracing. */
  async function proxyApi(call: ProxyCall, verifying?: Promise<Identity>): Promise<Response | WireResponse> {
    inflight++;
    let res: Response | WireResponse | undefined;
    try {
      let verified: Identity | Promise<Identity> | undefined = verifying;
      if (verifying === undefined) {
        checkBodyLimit(call);
        const authenticated = authenticateCall(call);
        if (authenticated instanceof Response) return (res = authenticated);
        verified = authenticated;
      }
      const early = admit(call, verified instanceof Promise ? await verified : verified);
      if (early !== undefined) return (res = early);
      const target = call.target;
      let upstreamRes: Response | WireResponse;
      try {
        upstreamRes = await forward(balancers.get(target.service), deps.policies(target), call);
      } catch (err) {
        return (res = afterForwardFailed(call, err));
      }
      const out = answered(call, upstreamRes);
      return (res = out instanceof Promise ? await out : out);
    } catch (err) {
      return (res = failed(call, err));
    } finally {
      ended(call, res ?? errorResponse(new Error("no response"), call.cid));
    }
  }

  return {
    handle,
    get inflight() {
      return inflight;
    },
  };
}
