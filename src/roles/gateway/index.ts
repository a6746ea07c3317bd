import { CORRELATION_HEADER, correlationIdFrom, createHttpApp, errorResponse } from "../../platform/http.ts";
import { UnavailableError, PayloadTooLargeError } from "../../platform/errors.ts";
import { up } from "../../platform/health.ts";
import type { RoleContext, RoleHandle } from "../../platform/role.ts";
import { proxyRequest } from "../../transport/http-proxy.ts";
import type { ServiceInstance } from "../../discovery/types.ts";
import { matchRoute, routeTemplate, ROUTES } from "./routes.ts";

/**
 * The front door. The proxy hot path runs on Bun.serve directly (no framework
 * body parsing, bodies stream through); everything else goes to an Elysia app.
 */
export async function startGateway(ctx: RoleContext): Promise<RoleHandle> {
  const { config, log, metrics, lifecycle, registry } = ctx;
  const admin = createHttpApp({ role: ctx.role, log, metrics, health: ctx.health, lifecycle, bodyLimitBytes: config.http.body_limit_bytes });

  const rr = new Map<string, number>();
  const pickInstance = (service: string): ServiceInstance | undefined => {
    const list = registry.instances(service);
    if (list.length === 0) return undefined;
    const i = (rr.get(service) ?? 0) % list.length;
    rr.set(service, i + 1);
    return list[i];
  };

  ctx.health.register("discovery", () => {
    const h = registry.health();
    const services = Object.fromEntries(ROUTES.map((r) => [r.service, registry.instances(r.service).length]));
    return { status: h.status, details: { ...(h.detail ? { detail: h.detail } : {}), instances: services }, timestamp: Date.now() };
  });

  const reqCounter = metrics.httpRequests;
  const reqDuration = metrics.httpDuration;
  let inflight = 0;

  const server = Bun.serve({
    hostname: config.http.host,
    port: ctx.httpPort,
    maxRequestBodySize: config.http.body_limit_bytes,
    idleTimeout: 120,
    fetch: async (req, srv) => {
      const url = new URL(req.url);
      const route = matchRoute(url.pathname);
      if (!route) return admin.handle(req);
      const started = performance.now();
      const cid = correlationIdFrom(req.headers);
      inflight++;
      let status = 500;
      try {
        const len = req.headers.get("content-length");
        if (len !== null && Number(len) > config.http.body_limit_bytes) throw new PayloadTooLargeError(config.http.body_limit_bytes);
        const instance = pickInstance(route.service);
        if (!instance) throw new UnavailableError(`no healthy instance of ${route.service}`, 1_000, "NO_HEALTHY_INSTANCE");
        const res = await proxyRequest(req, url, instance, {
          setHeaders: { [CORRELATION_HEADER]: cid },
          signal: req.signal,
          clientIp: srv.requestIP(req)?.address,
        });
        res.headers.set(CORRELATION_HEADER, cid);
        status = res.status;
        return res;
      } catch (err) {
        const res = errorResponse(err, cid);
        status = res.status;
        if (status >= 500) log.warn("upstream call failed", { route: route.prefix, status, correlation_id: cid, err });
        return res;
      } finally {
        inflight--;
        const tpl = routeTemplate(route, url.pathname);
        reqCounter.labels(ctx.role, req.method, tpl, String(status)).inc();
        reqDuration.labels(ctx.role, req.method, tpl).observe((performance.now() - started) / 1000);
      }
    },
    error: (err) => errorResponse(err, crypto.randomUUID()),
  });
  ctx.health.register("gateway", () => up({ inflight }));
  lifecycle.onShutdown("drain", "gateway http", () => server.stop(false));
  lifecycle.onShutdown("close", "gateway http force", () => server.stop(true));
  log.info("http listening", { port: server.port, host: config.http.host });
  return { role: ctx.role, httpPort: server.port! };
}
