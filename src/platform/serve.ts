import type { Elysia } from "elysia";
import type { GrpcServer } from "./grpc.ts";
import type { RoleContext } from "./role.ts";

/** Starts an Elysia app on host:port and registers its graceful close. Returns the bound port. */
export function serveHttp(ctx: RoleContext, app: Elysia<any, any, any, any, any, any, any>, port: number, onDrain?: () => void): number {
  const { config, lifecycle, log } = ctx;
  app.listen({ hostname: config.http.host, port, maxRequestBodySize: config.http.body_limit_bytes, idleTimeout: 120, reusePort: false });
  const server = app.server!;
  lifecycle.onShutdown("drain", `${ctx.role} http`, async () => {
    onDrain?.();
    // stop accepting, let in-flight requests finish; the lifecycle bounds how long
    await server.stop(false);
  });
  lifecycle.onShutdown("close", `${ctx.role} http force`, () => server.stop(true));
  log.info("http listening", { port: server.port, host: config.http.host });
  return server.port!;
}

export async function serveGrpc(ctx: RoleContext, grpc: GrpcServer, port: number): Promise<number> {
  const bound = await grpc.listen(ctx.config.http.host, port);
  ctx.lifecycle.onShutdown("announce", `${ctx.role} grpc health`, () => grpc.announceShutdown());
  ctx.lifecycle.onShutdown("drain", `${ctx.role} grpc`, () => grpc.shutdown(Math.max(0, ctx.config.http.shutdown_grace - 500)));
  ctx.log.info("grpc listening", { port: bound, host: ctx.config.http.host });
  return bound;
}
