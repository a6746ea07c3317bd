import * as prom from "prom-client";
import * as v from "valibot";
import { AccessLog } from "../../platform/access-log.ts";
import { breakerAdminRoutes } from "../../platform/admin.ts";
import { loadOrCreateSecret, mintToken, type Identity } from "../../platform/auth.ts";
import { DESIGNER_ROLE } from "../../platform/principal.ts";
import { createRoleAuth } from "../../platform/role-auth.ts";
import { up } from "../../platform/health.ts";
import { correlationIdFrom, errorResponse } from "../../platform/http.ts";
import { roleHttpApp } from "../../platform/http-app.ts";
import type { RoleContext, RoleHandle } from "../../platform/role.ts";
import { observeRegistry } from "../../telemetry/discovery.ts";
import { traceRateLimiter } from "../../telemetry/resilience.ts";
import { Downstreams } from "../../transport/downstreams.ts";
import { Http1Client, type WireResponse } from "../../transport/http1/index.ts";
import { type Conn, type DEFERRED, serveHttp1, type Http1Server } from "../../transport/http1/server.ts";
import type { ServerRequest } from "../../transport/http1/server-request.ts";
import { adminRoutes, gatewayStatus } from "./admin.ts";
import { fetchTls, httpTlsFiles } from "../../platform/http-tls.ts";
import { GatewayConfigSchema } from "../../config/gateway.ts";
import { ResponseFallbackCache } from "./fallback-cache.ts";
import { KNOWN_METHODS, MethodNotImplementedError } from "./methods.ts";
import { gatewayOpenApiRoutes, proxiedMethods, streamedRoutes } from "./openapi.ts";
import { startRateLimits } from "./rate-limit-start.ts";
import { createGatewayProxy } from "./proxy.ts";
import { buildRoutes, type GatewayRoute, RouteTable } from "./routes.ts";
import { routesAdmin } from "./routes-admin.ts";
import { UsageError } from "../../config/loader.ts";
import { traceRetry } from "../../telemetry/resilience.ts";
import type { DownstreamPolicies } from "../../transport/downstreams.ts";

/**
 * The gateway's wiring: the front door (bpm's HTTP/1.1 server) routes proxied paths to the
 * proxy (./proxy.ts: method policy → admit → balanced attempts → relay → account) and the
 * rest (health, metrics, admin, docs) to an Elysia app; this function only builds and connects
 * the parts and registers their shutdown.
 */
export async function startGateway(ctx: RoleContext): Promise<RoleHandle> {
  const { config, log, metrics, lifecycle, registry } = ctx;
  const gw = v.parse(GatewayConfigSchema, config.gateway);
  const rollbacks = new prom.Counter({
    name: "bpm_gateway_version_rollbacks_total",
    help: "Automatic rollbacks of a route's traffic to its stable version, by route prefix, service and the version rolled back from.",
    labelNames: ["route", "service", "from"] as const,
    registers: [metrics.registry],
  });
  const table = new RouteTable(
    buildRoutes(gw.routes, config.resilience4j, {
      onRollback: (route, r) => {
        rollbacks.labels(route.prefix, route.service, r.from).inc();
        log.warn("version rolled back: all traffic to the stable version", { prefix: route.prefix, service: route.service, ...r });
      },
    }),
  );
  for (const service of Object.keys(gw.rate_limit.services)) {
    if (!table.routes.some((r) => r.service === service)) throw new UsageError(`config: gateway.rate_limit.services.${service} names no routed service (gateway.routes)`);
  }
  /** `OPTIONS *`'s answer: every method some route serves. */
  const allowAny = [...new Set([...table.routes.flatMap((r) => r.methods), "OPTIONS"])].join(", ");
  const streamed = streamedRoutes(ctx.publicApi);
  const pathMethods = proxiedMethods(ctx.publicApi);
  // read at start-up: a missing file stops the role here, naming the key
  const tls = httpTlsFiles(config.http_tls);
  const balancers = ctx.balancers;
  for (const service of table.services()) balancers.get(service);
  const downstreams = new Downstreams(config.resilience4j, ctx.resilience, ctx.metrics);
  const routePolicies = new Map<GatewayRoute, DownstreamPolicies>();
  for (const r of table.routes) {
    const own = downstreams.get(r.downstream);
    if (r.retry === undefined) routePolicies.set(r, own);
    else {
      const retry = downstreams.registry.retry(r.retry);
      traceRetry(retry);
      routePolicies.set(r, { ...own, retry, budget: downstreams.registry.retryBudget(r.retry) });
    }
  }
  const sticky = { enabled: config.load_balancer.sticky_sessions?.enabled ?? false, cookie_name: config.load_balancer.sticky_sessions?.cookie_name ?? "SERVERID" };
  const limits = gw.rate_limit.enabled ? await startRateLimits(gw.rate_limit, ctx, table.routes.flatMap((r) => (r.rateLimit !== undefined ? [{ prefix: r.prefix, limit: r.rateLimit }] : []))) : undefined;
  const fallback = config.fallback.shouldCache ? new ResponseFallbackCache(config.fallback.cacheTimeout) : undefined;
  // /metrics: breakers, retries, budgets (the policies' collectors), ejections, discovery counts
  metrics.registerResilience(downstreams.registry);
  observeRegistry(registry, table.services(), metrics);
  // a rejection becomes an event on the request's span (a no-op while tracing is off)
  for (const l of limits?.limiters() ?? []) traceRateLimiter(l);
  const accessLog = gw.access_log ? new AccessLog() : undefined;
  const frontTls = tls !== undefined ? { cert: tls.cert, key: tls.key } : undefined;
  const upstreamClient = new Http1Client({ pipelineDepth: gw.upstream_pipeline_depth, ...(tls !== undefined ? { tls: fetchTls(tls) } : {}) });
  metrics.watchUpstreamClient(() => upstreamClient.stats());

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

  const admin = roleHttpApp(ctx, roleAuth, async () => gatewayStatus({ balancers, downstreams, table }))
    .use(adminRoutes({ balancers, downstreams, table, authenticate: async (h) => authenticate(h) }))
    .use(routesAdmin(table, roleAuth.requireAdmin, log))
    .use(breakerAdminRoutes(downstreams, roleAuth.requireAdmin))
    .use(gatewayOpenApiRoutes(ctx.publicApi, ctx.version, roleAuth.enabled));

  ctx.health.register("discovery", () => {
    const h = registry.health();
    const instances = Object.fromEntries(table.services().map((s) => [s, registry.instances(s).length]));
    return { status: h.status, details: { ...(h.detail ? { detail: h.detail } : {}), instances }, timestamp: Date.now() };
  });

  /** Throws a 401 at once, or answers from the verified-token cache without a promise. */
  function authenticate(authorization: string | null): Identity | Promise<Identity> | undefined {
    return authenticator ? authenticator.authenticate(authorization) : undefined;
  }

  const proxy = createGatewayProxy({
    role: ctx.role,
    log,
    metrics,
    balancers,
    policies: (route) => routePolicies.get(route)!,
    limits,
    fallback,
    defaultAnswer: defaultResponseOf(config.fallback.defaultResponse),
    accessLog,
    upstreamClient,
    sticky,
    streamed,
    pathMethods,
    requestTimeoutMs: gw.request_timeout,
    bodyLimitBytes: config.http.body_limit_bytes,
    authenticate,
    isCached: (authorization) => authenticator === undefined || authenticator.isCached(authorization),
    authEnabled: authenticator !== undefined,
  });

  /** accept (the raw front) → route: proxied routes to the proxy, everything else to notProxied. */
  const rawHandler = (req: ServerRequest, conn: Conn): Response | WireResponse | Promise<Response | WireResponse> | typeof DEFERRED => {
    const route = table.match(req.pathname);
    return route ? proxy.handle(req, conn, route) : notProxied(req);
  };

  const server = startRawFront();

  function startRawFront(): Http1Server {
    return serveHttp1({
      hostname: config.http.host,
      port: ctx.httpPort,
      handler: rawHandler,
      errorResponse: (err) => errorResponse(err, crypto.randomUUID()),
      maxBodyBytes: config.http.body_limit_bytes,
      headerTimeoutMs: gw.client_header_timeout,
      bodyTimeoutMs: gw.client_body_timeout,
      idleTimeoutMs: gw.keepalive_timeout,
      ...(frontTls !== undefined ? { tls: frontTls } : {}),
    });
  }

  /**
   * What the gateway does not proxy: `OPTIONS *` is answered here; a method no role implements
   * → 501; the rest goes to the admin app, addressed by the request target alone (the URL's
   * authority is the server's own, not the client's Host).
   */
  function notProxied(req: ServerRequest): Response | Promise<Response> {
    if (req.pathname === "*") return new Response(null, { status: 204, headers: { allow: allowAny } });
    if (!KNOWN_METHODS.has(req.method)) return errorResponse(new MethodNotImplementedError(req.method), correlationIdFrom(req.headers));
    return admin.handle(req.toRequest());
  }

  ctx.health.register("gateway", () => up({ inflight: proxy.inflight }));
  lifecycle.onShutdown("drain", "gateway http", () => server.stop(false));
  lifecycle.onShutdown("close", "gateway http force", () => server.stop(true));
  lifecycle.onShutdown("close", "access log", () => accessLog?.close());
  lifecycle.onShutdown("close", "upstream pool", () => upstreamClient.close());
  log.info("http listening", { port: server.port, host: config.http.host, front: gw.front });
  return { role: ctx.role, httpPort: server.port, devToken };
}

/** `fallback.defaultResponse` as a maker of 200 responses marked `X-Fallback: default` (undefined when not configured). */
function defaultResponseOf(value: unknown): (() => Response) | undefined {
  if (value === undefined) return undefined;
  const body = JSON.stringify(value);
  return () => new Response(body, { status: 200, headers: { "content-type": "application/json", "x-fallback": "default" } });
}
