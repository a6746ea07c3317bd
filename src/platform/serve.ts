import type { Elysia } from "elysia";
import type { GrpcServer } from "./grpc.ts";
import { httpTlsFiles } from "./http-tls.ts";
import type { RoleContext } from "./role.ts";

/** Starts an Elysia app on host:port (HTTPS with `http_tls`) and registers its graceful close. Returns the bound port. */
export function serveHttp(ctx: RoleContext, app: Elysia<any, any, any, any, any, any, any>, port: number, onDrain?: () => void): number {
  const { config, lifecycle, log } = ctx;
  // read at start-up: a missing file stops the role here, naming the key
  const tls = httpTlsFiles(config.http_tls);
  app.listen({ hostname: config.http.host, port, maxRequestBodySize: config.http.body_limit_bytes, idleTimeout: 120, reusePort: false, ...(tls !== undefined ? { tls: { cert: tls.cert, key: tls.key } } : {}) });
  const server = app.server!;
  lifecycle.onShutdown("drain", `${ctx.role} http`, async () => {
    onDrain?.();
    // stop accepting, let in-flight requests finish; the lifecycle bounds how long
    await server.stop(false);
  });
  lifecycle.onShutdown("close", `${ctx.role} http force`, () => server.stop(true));
  log.info("http listening", { port: server.port, host: config.http.host, tls: tls !== undefined });
  return server.port!;
}

export async function serveGrpc(ctx: RoleContext, grpc: GrpcServer, port: number): Promise<number> {
  const bound = await grpc.listen(ctx.config.http.host, port);
  ctx.lifecycle.onShutdown("announce", `${ctx.role} grpc health`, () => grpc.announceShutdown());
  ctx.lifecycle.onShutdown("drain", `${ctx.role} grpc`, () => grpc.shutdown(Math.max(0, ctx.config.http.shutdown_grace - 500)));
  ctx.log.info("grpc listening", { port: bound, host: ctx.config.http.host });
  return bound;
}
