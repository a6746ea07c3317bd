import { GrpcServer } from "../../platform/grpc.ts";
import { roleHttpApp } from "../../platform/http-app.ts";
import type { RoleContext, RoleHandle } from "../../platform/role.ts";
import { serveGrpc, serveHttp } from "../../platform/serve.ts";

export async function startProcessService(ctx: RoleContext): Promise<RoleHandle> {
  const app = roleHttpApp(ctx);
  const httpPort = serveHttp(ctx, app, ctx.httpPort);
  const grpc = new GrpcServer({ role: ctx.role, log: ctx.log, metrics: ctx.metrics });
  const grpcPort = await serveGrpc(ctx, grpc, ctx.grpcPort ?? 0);
  return { role: ctx.role, httpPort, grpcPort };
}
