import * as v from "valibot";
import { ServiceBalancers } from "../../balancing/balancers.ts";
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
import { serveHttp1, type Http1Server } from "../../transport/http1/server.ts";
import type { ServerRequest } from "../../transport/http1/server-request.ts";
import type { InboundRequest, UrlParts } from "../../transport/inbound.ts";
import { forward, type ForwardRequest } from "../../transport/resilient-http.ts";
import { adminRoutes } from "./admin.ts";
import { openApiRoutes } from "./openapi.ts";
import { Authenticator, createAdminGuard, IDENTITY_ADMIN_HEADER, IDENTITY_HEADER, type Identity } from "../../platform/auth.ts";
import { GatewayConfigSchema } from "./config.ts";
import { ResponseFallbackCache } from "./fallback-cache.ts";
import { matchRoute, routeTemplate, ROUTES } from "./routes.ts";
import { observeRegistry } from "../../telemetry/discovery.ts";
import { withHttpServerSpan } from "../../telemetry/http-spans.ts";
import type { HeaderRecord } from "../../telemetry/propagation.ts";
import { instrumentBalancerEvents, recordFallback, traceRateLimiter } from "../../telemetry/resilience.ts";
import { traceFields, tracingEnabled } from "../../telemetry/tracing.ts";

const STRIPPED = [IDENTITY_HEADER, IDENTITY_ADMIN_HEADER] as const;

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
  const upstreamClient = gw.upstream_client === "pool" ? new Http1Client() : undefined;
  // raw front + pooled client: the upstream's response is written back as the client read it (no Headers, no Response)
  const wire = gw.front === "raw" && upstreamClient !== undefined;

  let authenticator: Authenticator | undefined;
  let devToken: string | undefined;
  if (gw.auth.enabled) {
    const made = await Authenticator.create(gw.auth, config.data_dir);
    authenticator = made.auth;
    if (made.secret !== undefined && !gw.auth.secret) {
      const { mintToken } = await import("../../platform/auth.ts");
      const dev = await mintToken(made.secret, gw.auth, "1", 12 * 3600, true);
      log.info("dev token (user 1, admin, 12 h); mint more with `bpm token --sub=USER`", { token: dev });
      devToken = dev;
    }
  }

  const admin = roleHttpApp(ctx)
    .use(adminRoutes({ balancers, downstreams, authenticate: async (h) => authenticate(h) }))
    .use(breakerAdminRoutes(downstreams, await createAdminGuard(gw.auth, config.data_dir)))
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

  /** The raw front's handler: proxied routes on the lean path, everything else through a real Request to the admin app. */
  const rawHandler = (req: ServerRequest): Response | WireResponse | Promise<Response | WireResponse> => {
    const route = matchRoute(req.pathname);
    if (!route) return admin.handle(req.toRequest());
    const clientIp = req.remoteAddress;
    if (!tracingEnabled) return proxyApi(req, req, route, clientIp);
    // the propagator reads two fields: hand it those, not a Headers built from every field
    const headers: HeaderRecord = { traceparent: req.headers.get("traceparent") ?? undefined, tracestate: req.headers.get("tracestate") ?? undefined };
    const spanRequest = { method: req.method, url: req.pathname, headers };
    return withHttpServerSpan({ role: ctx.role, request: spanRequest, path: req.pathname, route: routeTemplate(route, req.pathname), clientAddress: clientIp }, () => proxyApi(req, req, route, clientIp));
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
      if (!tracingEnabled) return proxyApi(req, url, route, clientIp) as Promise<Response>;
      return withHttpServerSpan({ role: ctx.role, request: req, path: url.pathname, route: routeTemplate(route, url.pathname), clientAddress: clientIp }, () => proxyApi(req, url, route, clientIp) as Promise<Response>);
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
   * sticky cookie and our fields; counted and logged once whatever happens (one async
   * function for all of it: each level of await costs on this path).
   */
  async function proxyApi(req: InboundRequest, url: UrlParts, route: NonNullable<ReturnType<typeof matchRoute>>, clientIp: string | undefined): Promise<Response | WireResponse> {
    const started = performance.now();
    const cid = correlationIdFrom(req.headers);
    const tpl = routeTemplate(route, url.pathname);
    let res: Response | WireResponse | undefined;
    let user: string | undefined;
    let upstreamId: string | undefined;
    inflight++;
    try {
      const len = req.headers.get("content-length");
      if (len !== null && Number(len) > config.http.body_limit_bytes) throw new PayloadTooLargeError(config.http.body_limit_bytes);
      const verified = authenticate(req.headers.get("authorization"));
      const identity = verified instanceof Promise ? await verified : verified;
      if (identity) user = identity.sub;
      let decision: RateLimitDecision | undefined;
      if (limiter) {
        decision = limiter.check(identity ? `u:${identity.sub}` : `ip:${clientIp ?? "unknown"}`);
        if (!decision.allowed) {
          const e = new RateLimitedError("Too many requests", decision.retryAfterMs, decision.limit);
          return (res = errorResponse(e, cid, rateLimitHeaders(decision)));
        }
      }
      const now = Date.now();
      const deadline = earliest(now + gw.request_timeout, readDeadline(req.headers)) ?? now + gw.request_timeout;
      const lb = balancers.get(route.service);
      const policies = downstreams.get(route.downstream);
      const stickyId = sticky.enabled ? readStickyCookie(req.headers.get("cookie"), sticky.cookie_name) : undefined;
      const setHeaders: Record<string, string> = { [CORRELATION_HEADER]: cid, [DEADLINE_HEADER]: String(deadline) };
      if (identity) {
        setHeaders[IDENTITY_HEADER] = identity.sub;
        if (identity.admin) setHeaders[IDENTITY_ADMIN_HEADER] = "true";
      }
      const cacheKey = fallback && req.method === "GET" ? `${identity?.sub ?? ""}|${url.pathname}${url.search}` : undefined;
      const call: ForwardRequest = {
        req,
        url,
        deadline,
        idempotent: isIdempotentHttp(req.method, req.headers),
        stickyId,
        setHeaders,
        stripHeaders: STRIPPED,
        clientIp,
        client: upstreamClient,
        wire,
        route: tpl,
      };
      try {
        res = await forward(lb, policies, call);
        const lease = call.lease!;
        upstreamId = lease.instance.id;
        // cache before adding our own cookie: the kept copy holds only what the upstream said
        if (cacheKey !== undefined) {
          if (fallback!.cacheable(res)) {
            if (res instanceof WireResponse) fallback!.storeWire(cacheKey, res, now);
            else res = await fallback!.store(cacheKey, res, now);
          } else if (res.status >= 500) {
            const cached = fallbackLookup(cacheKey, now);
            if (cached) {
              if (res instanceof WireResponse) res.cancel();
              res = fromFallback(cached);
            }
          }
        }
        if (sticky.enabled && res.headers.get("x-fallback") === null && (stickyId === undefined || lease.repinned || lease.stickyId !== stickyId)) {
          res.headers.append("set-cookie", stickyCookie(sticky.cookie_name, lease.stickyId));
        }
      } catch (err) {
        const cached = cacheKey !== undefined && err instanceof BpmError && err.httpStatus >= 500 ? fallbackLookup(cacheKey, now) : undefined;
        if (!cached) throw err;
        res = fromFallback(cached);
      }
      const h = res.headers;
      h.set(CORRELATION_HEADER, cid);
      if (decision !== undefined) writeRateLimitHeaders(decision, h);
      return res;
    } catch (err) {
      res = errorResponse(err, cid);
      if (res.status >= 500 && !(err instanceof BpmError)) log.error("gateway request failed", { correlation_id: cid, err });
      return res;
    } finally {
      inflight--;
      const status = res?.status ?? 500;
      const ms = performance.now() - started;
      countRequest(req.method, tpl, status, ms / 1000);
      accessLog?.request(req.method, url.pathname, status, Math.round(ms * 100) / 100, upstreamId, cid, tracingEnabled ? traceFields()?.trace_id : undefined, user);
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
