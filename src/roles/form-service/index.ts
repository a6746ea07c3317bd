import { join } from "node:path";
import { GrpcServer } from "../../platform/grpc.ts";
import { up } from "../../platform/health.ts";
import { roleHttpApp } from "../../platform/http-app.ts";
import { FORM_API } from "./api.ts";
import { platformApi } from "../../platform/api.ts";
import { openApiRoutes } from "../../platform/openapi-routes.ts";
import { createRoleAuth } from "../../platform/role-auth.ts";
import { grpcCredentials } from "../../platform/grpc-tls.ts";
import { Downstreams } from "../../transport/downstreams.ts";
import { GrpcParticipants } from "./participants.ts";
import type { RoleContext, RoleHandle } from "../../platform/role.ts";
import { serveGrpc, serveHttp } from "../../platform/serve.ts";
import { addFormGrpc } from "./grpc.ts";
import { formRoutes } from "./rest.ts";
import { FormService } from "./service.ts";
import { SqliteFormStore } from "./store-sqlite.ts";
import { FORM_STORE_SPANS, type FormStore } from "./store.ts";
import { postgresTarget, sqliteTarget, traceStore } from "../../telemetry/storage-spans.ts";

/** SQLite under the data dir (one instance), or with DATABASE_URL, PostgreSQL shared by replicas. */
export async function openFormStore(ctx: RoleContext): Promise<FormStore> {
  const { config } = ctx;
  if (config.storage.database_url) {
    const { PostgresFormStore } = await import("./store-postgres.ts");
    const store = await PostgresFormStore.open(config.storage.database_url, ctx.log);
    return traceStore<FormStore>(store, postgresTarget(config.storage.database_url), FORM_STORE_SPANS.postgresql);
  }
  const sqlite = config.storage.sqlite;
  const path = join(config.data_dir, "form-service.db");
  const store = new SqliteFormStore(path, { synchronous: sqlite.synchronous, busyTimeoutMs: sqlite.busy_timeout });
  return traceStore<FormStore>(store, sqliteTarget(path), FORM_STORE_SPANS.sqlite);
}

export async function startFormService(ctx: RoleContext): Promise<RoleHandle> {
  const store = await openFormStore(ctx);
  const { config } = ctx;
  const auth = await createRoleAuth(config.auth, config.data_dir, ctx.role);
  const tls = grpcCredentials(config.grpc_tls);
  // a submission's readers include its process's participants: process-service says who they are
  const balancers = ctx.balancers;
  const downstreams = new Downstreams(config.resilience4j, ctx.resilience, ctx.metrics);
  ctx.metrics.registerResilience(downstreams.registry);
  const participants = new GrpcParticipants({ balancers, downstreams, role: ctx.role, channelCredentials: tls.client, channelOptions: tls.channelOptions });
  const forms = new FormService(store, participants);

  ctx.health.register("storage", async () => {
    await store.ping();
    return up({});
  });

  const app = roleHttpApp(ctx, auth)
    .use(formRoutes(forms))
    .use(openApiRoutes([...FORM_API, ...platformApi()], { title: "bpm form-service", version: ctx.version, secured: auth.enabled }));
  const httpPort = serveHttp(ctx, app, ctx.httpPort);

  const grpc = new GrpcServer({ role: ctx.role, log: ctx.log, metrics: ctx.metrics, authenticate: auth.authenticate, credentials: tls.server });
  addFormGrpc(grpc, forms);
  const grpcPort = await serveGrpc(ctx, grpc, ctx.grpcPort ?? 0);

  ctx.lifecycle.onShutdown("close", "participants client", () => {
    participants.close();
  });
  ctx.lifecycle.onShutdown("close", "form store", () => store.close());
  return { role: ctx.role, httpPort, grpcPort };
}
