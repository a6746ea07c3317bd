import * as v from "valibot";
import { ServiceBalancers } from "../../balancing/service-balancers.ts";
import { readStickyCookie, stickyCookie } from "../../balancing/sticky.ts";
import { AccessLog } from "../../platform/access-log.ts";
import { BpmError, PayloadTooLargeError } from "../../platform/errors.ts";
import { up } from "../../platform/health.ts";
import { breakerAdminRoutes } from "../../platform/admin.ts";
import { CORRELATION_HEADER, correlationIdFrom, errorResponse } from "../../platform/http.ts";
import { roleHttpApp } from "../../platform/http-app.ts";
import type { RoleContext, RoleHandle } from "../../platform/role.ts";
import { DEADLINE_HEADER, earliest, readDeadline } from "../../resilience/deadline.ts";
import { RateLimitedError } from "../../resilience/errors.ts";
import { isIdempotentHttp } from "../../resilience/outcome.ts";
import { type RateLimitDecision, RateLimiter, rateLimitHeaders, writeRateLimitHeaders } from "../../resilience/rate-limiter.ts";
import { Downstreams } from "../../transport/downstreams.ts";
import { Http1Client, WireResponse } from "../../transport/http1/index.ts";
import { type Conn, DEFERRED, serveHttp1, type Http1Server } from "../../transport/http1/server.ts";
import type { ServerRequest } from "../../transport/http1/server-request.ts";
import type { InboundRequest, UrlParts } from "../../transport/inbound.ts";
import { forward, forwardDirect, type ForwardRequest, type ForwardSink, ForwardState } from "../../transport/resilient-http.ts";
import { adminRoutes } from "./admin.ts";
import { openApiRoutes, STREAMED_ROUTES } from "./openapi.ts";
import { LEGACY_IDENTITY_HEADERS, loadOrCreateSecret, mintToken, type Identity } from "../../platform/auth.ts";
import { DESIGNER_ROLE } from "../../platform/principal.ts";
import { createRoleAuth } from "../../platform/role-auth.ts";
import { GatewayConfigSchema } from "./config.ts";
import { ResponseFallbackCache } from "./fallback-cache.ts";
import { type GatewayRoute, matchRoute, routeTemplate, ROUTES } from "./routes.ts";
import { observeRegistry } from "../../telemetry/discovery.ts";
import { endHttpServerSpan, startHttpServerSpan, withHttpServerSpan } from "../../telemetry/http-spans.ts";
import type { Span } from "@opentelemetry/api";
import type { HeaderRecord } from "../../telemetry/propagation.ts";
import { instrumentBalancerEvents, recordFallback, traceRateLimiter } from "../../telemetry/resilience.ts";
import { runInSpan, traceFields, tracingEnabled } from "../../telemetry/tracing.ts";

/** Nothing downstream reads these (each role verifies Authorization itself); a forged one is still dropped. */
const STRIPPED = LEGACY_IDENTITY_HEADERS;

/**
 * The front door: auth → rate limit → route → balanced, resilient upstream call.
 * The proxy path runs on Bun.serve directly (bodies stream through, no framework
 * parsing); everything else (health, metrics, admin, docs) is an Elysia app.
 */
export async function startGateway(ctx: RoleContext): Promise<RoleHandle> {
  const { config, log, metrics, lifecycle, registry } = ctx;
  const gw = v.parse(GatewayConfigSchema, config.gateway);
  const balancers = new ServiceBalancers({ registry, config: config.load_balancer, activeHealthChecks: config.discovery.mode === "static" });
  for (const r of ROUTES) balancers.get(r.service);
  const downstreams = new Downstreams(config.resilience4j);
  const sticky = { enabled: config.load_balancer.sticky_sessions?.enabled ?? false, cookie_name: config.load_balancer.sticky_sessions?.cookie_name ?? "SERVERID" };
  const limiter = gw.rate_limit.enabled
    ? new RateLimiter({ name: "gateway", limitForPeriod: gw.rate_limit.requests, limitRefreshPeriod: gw.rate_limit.window, maxKeys: gw.rate_limit.max_keys })
    : undefined;
  const fallback = config.fallback.shouldCache ? new ResponseFallbackCache(config.fallback.cacheTimeout) : undefined;
  // /metrics: breakers, retries, budgets (the policies' collectors), ejections, discovery counts
  metrics.registerResilience(downstreams.registry);
  instrumentBalancerEvents(balancers.events, metrics);
  observeRegistry(registry, ROUTES.map((r) => r.service), metrics);
  // a rejection becomes an event on the request's span (a no-op while tracing is off)
  if (limiter) traceRateLimiter(limiter);
  const accessLog = gw.access_log ? new AccessLog() : undefined;
  const upstreamClient = gw.upstream_client === "pool" ? new Http1Client({ pipelineDepth: gw.upstream_pipeline_depth }) : undefined;
  if (upstreamClient !== undefined) metrics.watchUpstreamClient(() => upstreamClient.stats());
  // raw front + pooled client: the upstream's response is written back as the client read it (no Headers, no Response)
  const wire = gw.front === "raw" && upstreamClient !== undefined;

  // the gateway refuses a bad token before any upstream is asked; the role behind it checks again
  const roleAuth = await createRoleAuth(config.auth, config.data_dir, ctx.role);
  const authenticator = roleAuth.enabled ? roleAuth : undefined;
  let devToken: string | undefined;
  const a = config.auth;
  if (a.enabled && !a.secret && !a.jwks_file && !a.public_key_file) {
    const dev = await mintToken(loadOrCreateSecret(a, config.data_dir).secret, a, "1", 12 * 3600, { admin: true, roles: [DESIGNER_ROLE] });
    log.info("dev token (user 1, admin, designer, 12 h); mint more with `bpm token --sub=USER`", { token: dev });
    devToken = dev;
  }

  const admin = roleHttpApp(ctx, roleAuth)
    .use(adminRoutes({ balancers, downstreams, authenticate: async (h) => authenticate(h) }))
    .use(breakerAdminRoutes(downstreams, roleAuth.requireAdmin))
    .use(openApiRoutes(ctx.version));

  ctx.health.register("discovery", () => {
    const h = registry.health();
    const instances = Object.fromEntries(ROUTES.map((r) => [r.service, registry.instances(r.service).length]));
    return { status: h.status, details: { ...(h.detail ? { detail: h.detail } : {}), instances }, timestamp: Date.now() };
  });

  /** Throws a 401 at once, or answers from the verified-token cache without a promise. */
  function authenticate(authorization: string | null): Identity | Promise<Identity> | undefined {
    return authenticator ? authenticator.authenticate(authorization) : undefined;
  }

  const countRequest = (method: string, tpl: string, status: number, seconds: number) => {
    metrics.httpRequests.labels(ctx.role, method, tpl, String(status)).inc();
    metrics.httpDuration.labels(ctx.role, method, tpl).observe(seconds);
  };
  let inflight = 0;

  /** A response served from the fallback cache: counted, and an event on the request's span. */
  function fromFallback<R extends Response | WireResponse>(cached: R): R {
    recordFallback("gateway", "cache", {}, metrics);
    return cached;
  }
  const fallbackLookup = (key: string, now: number): Response | WireResponse | undefined => (wire ? fallback!.lookupWire(key, now) : fallback!.lookup(key, now));

  /**
   * The raw front's handler: proxied routes on the direct path (no promise from the request's
   * head to the upstream's answer being written back) when they can be, else through
   * `proxyApi`; everything else through a real Request to the admin app.
   */
  const rawHandler = (req: ServerRequest, conn: Conn): Response | WireResponse | Promise<Response | WireResponse> | typeof DEFERRED => {
    const route = matchRoute(req.pathname);
    if (!route) return admin.handle(req.toRequest());
    const call = new ProxyCall(req, req, route, req.remoteAddress);
    // a body still arriving streams through proxyApi; a whole one (or none) goes direct
    const direct = wire && !req.streaming;
    if (tracingEnabled) {
      // the propagator reads two fields: hand it those, not a Headers built from every field
      const headers: HeaderRecord = { traceparent: req.headers.get("traceparent") ?? undefined, tracestate: req.headers.get("tracestate") ?? undefined };
      const spanOptions = { role: ctx.role, request: { method: req.method, url: req.pathname, headers }, path: req.pathname, route: call.route, clientAddress: call.clientIp };
      if (!direct) return withHttpServerSpan(spanOptions, () => proxyApi(call));
      // the span is active while the request is sent (the attempt's CLIENT span is its child) and ends in `ended`
      const span = (call.serverSpan = startHttpServerSpan(spanOptions));
      return runInSpan(span, () => proxyDirect(call, req, conn));
    }
    return direct ? proxyDirect(call, req, conn) : proxyApi(call);
  };

  const server: { port: number; stop(force: boolean): Promise<void> } = gw.front === "raw" ? startRawFront() : Bun.serve({
    hostname: config.http.host,
    port: ctx.httpPort,
    maxRequestBodySize: config.http.body_limit_bytes,
    idleTimeout: 120,
    fetch: (req, srv) => {
      const url = new URL(req.url);
      const route = matchRoute(url.pathname);
      if (!route) return admin.handle(req);
      const clientIp = srv.requestIP(req)?.address;
      // the gateway's server span around the whole request; off, nothing but this check
      // the Bun.serve front never asks for wire responses (wire needs the raw front)
      const call = new ProxyCall(req, url, route, clientIp);
      if (!tracingEnabled) return proxyApi(call) as Promise<Response>;
      return withHttpServerSpan({ role: ctx.role, request: req, path: url.pathname, route: call.route, clientAddress: clientIp }, () => proxyApi(call) as Promise<Response>);
    },
    error: (err) => errorResponse(err, crypto.randomUUID()),
  }) as { port: number; stop(force: boolean): Promise<void> };

  function startRawFront(): Http1Server {
    return serveHttp1({
      hostname: config.http.host,
      port: ctx.httpPort,
      handler: rawHandler,
      errorResponse: (err) => errorResponse(err, crypto.randomUUID()),
      maxBodyBytes: config.http.body_limit_bytes,
      idleTimeoutMs: 120_000,
    });
  }

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
    readonly wire = wire;
    /** An event-stream route is never pipelined upstream (it would hold up the requests behind it). */
    readonly pipeline: boolean;
    setHeaders: Record<string, string> = {};
    deadline = 0;
    idempotent = false;
    stickyId: string | undefined;
    identity: Identity | undefined;
    decision: RateLimitDecision | undefined;
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
      readonly url: UrlParts,
      readonly target: GatewayRoute,
      readonly clientIp: string | undefined,
    ) {
      super();
      this.cid = correlationIdFrom(req.headers);
      this.route = routeTemplate(target, url.pathname);
      this.pipeline = !STREAMED_ROUTES.has(this.route);
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
    if (len !== null && Number(len) > config.http.body_limit_bytes) throw new PayloadTooLargeError(config.http.body_limit_bytes);
  }

  /** The rate limit (429, returned), then the forward request's fields. `identity` is the verified token's. */
  function admit(call: ProxyCall, identity: Identity | undefined): Response | undefined {
    const headers = call.req.headers;
    call.identity = identity;
    if (limiter) {
      const decision = (call.decision = limiter.check(identity ? `u:${identity.sub}` : `ip:${call.clientIp ?? "unknown"}`));
      if (!decision.allowed) return errorResponse(new RateLimitedError("Too many requests", decision.retryAfterMs, decision.limit), call.cid, rateLimitHeaders(decision));
    }
    const now = (call.now = Date.now());
    call.deadline = earliest(now + gw.request_timeout, readDeadline(headers)) ?? now + gw.request_timeout;
    call.idempotent = isIdempotentHttp(call.req.method, headers);
    if (sticky.enabled) call.stickyId = readStickyCookie(headers.get("cookie"), sticky.cookie_name);
    const set = call.setHeaders;
    set[CORRELATION_HEADER] = call.cid;
    set[DEADLINE_HEADER] = String(call.deadline);
    if (fallback && call.req.method === "GET") call.cacheKey = `${identity?.sub ?? ""}|${call.url.pathname}${call.url.search}`;
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
      } else if (res.status >= 500) {
        const cached = fallbackLookup(key, call.now);
        if (cached) {
          if (res instanceof WireResponse) res.cancel();
          res = fromFallback(cached);
        }
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
    const cached = call.cacheKey !== undefined && err instanceof BpmError && err.httpStatus >= 500 ? fallbackLookup(call.cacheKey, call.now) : undefined;
    return cached ? withOurFields(call, fromFallback(cached)) : failed(call, err);
  }

  /** The error response; an error that is not one of ours is logged (it is a bug or an outage we did not name). */
  function failed(call: ProxyCall, err: unknown): Response {
    const res = errorResponse(err, call.cid);
    if (res.status >= 500 && !(err instanceof BpmError)) log.error("gateway request failed", { correlation_id: call.cid, err });
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
    accessLog?.request(call.req.method, call.url.pathname, res.status, Math.round(ms * 100) / 100, call.lease?.instance.id, call.cid, traceId, call.identity?.sub);
  }

  /** The raw front with the pooled client: the answer is written from the upstream socket's read callback. */
  function proxyDirect(call: ProxyCall, req: ServerRequest, conn: Conn): Response | Promise<Response | WireResponse> | typeof DEFERRED {
    let verified: Identity | Promise<Identity> | undefined;
    let early: Response | undefined;
    try {
      checkBodyLimit(call);
      verified = authenticate(req.headers.get("authorization"));
    } catch (err) {
      early = failed(call, err);
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
    forwardDirect(balancers.get(target.service), downstreams.get(target.downstream), call, req.bytes, call);
    return DEFERRED;
  }

  /** The same as one async function: streamed bodies, tokens not verified yet, tracing, the Bun.serve front. */
  async function proxyApi(call: ProxyCall, verifying?: Promise<Identity>): Promise<Response | WireResponse> {
    inflight++;
    let res: Response | WireResponse | undefined;
    try {
      if (verifying === undefined) checkBodyLimit(call);
      const verified = verifying ?? authenticate(call.req.headers.get("authorization"));
      const early = admit(call, verified instanceof Promise ? await verified : verified);
      if (early !== undefined) return (res = early);
      const target = call.target;
      let upstreamRes: Response | WireResponse;
      try {
        upstreamRes = await forward(balancers.get(target.service), downstreams.get(target.downstream), call);
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

  ctx.health.register("gateway", () => up({ inflight }));
  lifecycle.onShutdown("drain", "gateway http", () => server.stop(false));
  lifecycle.onShutdown("close", "gateway http force", () => server.stop(true));
  lifecycle.onShutdown("close", "gateway balancers", () => balancers.close());
  lifecycle.onShutdown("close", "access log", () => accessLog?.close());
  lifecycle.onShutdown("close", "upstream pool", () => upstreamClient?.close());
  log.info("http listening", { port: server.port, host: config.http.host, front: gw.front });
  return { role: ctx.role, httpPort: server.port, devToken };
}
