import { join } from "node:path";
import { GrpcServer } from "../../platform/grpc.ts";
import { roleHttpApp } from "../../platform/http-app.ts";
import { TASK_API } from "./api.ts";
import { platformApi } from "../../platform/api.ts";
import { openApiRoutes } from "../../platform/openapi-routes.ts";
import { createRoleAuth } from "../../platform/role-auth.ts";
import { grpcCredentials } from "../../platform/grpc-tls.ts";
import { up } from "../../platform/health.ts";
import type { RoleContext, RoleHandle } from "../../platform/role.ts";
import { serveGrpc, serveHttp } from "../../platform/serve.ts";
import { SseRegistry } from "../../platform/sse.ts";
import { TaskEventBus } from "./events.ts";
import { addTaskGrpc } from "./grpc.ts";
import { taskRoutes } from "./rest.ts";
import { TaskService } from "./service.ts";
import { SqliteTaskStore } from "./store-sqlite.ts";
import { TASK_STORE_SPANS, type TaskStore } from "./store.ts";
import { postgresTarget, sqliteTarget, traceStore } from "../../telemetry/storage-spans.ts";
import { declareLeafRole } from "../../telemetry/http-spans.ts";

/**
 * SQLite (one instance) or, with DATABASE_URL, PostgreSQL shared by replicas. `shared` stores
 * deliver every replica's events to `events` themselves, so the service must not publish locally too.
 */
export async function openTaskStore(ctx: RoleContext, events: TaskEventBus): Promise<{ store: TaskStore; shared: boolean }> {
  const { config } = ctx;
  if (config.storage.database_url) {
    const { openPostgresTaskStore } = await import("./store-postgres.ts");
    const store = await openPostgresTaskStore(config.storage.database_url, ctx.log, { onEvent: (e) => events.publish(e) });
    return { store: traceStore(store, postgresTarget(config.storage.database_url), TASK_STORE_SPANS), shared: true };
  }
  const path = join(config.data_dir, "task-service.db");
  const store = new SqliteTaskStore(path, { synchronous: config.storage.sqlite.synchronous, busyTimeoutMs: config.storage.sqlite.busy_timeout });
  return { store: traceStore(store, sqliteTarget(path), TASK_STORE_SPANS), shared: false };
}

export async function startTaskService(ctx: RoleContext): Promise<RoleHandle> {
  const events = new TaskEventBus();
  const { store, shared } = await openTaskStore(ctx, events);
  const tasks = new TaskService(store, events, !shared);
  const streams = new SseRegistry();

  ctx.health.register("storage", async () => {
    await store.ping();
    return up({ engine: shared ? "postgresql" : "sqlite", subscribers: tasks.events.size });
  });

  // serving a request calls no other service: a sampled-out request needs no trace context here
  declareLeafRole(ctx.role);
  const auth = await createRoleAuth(ctx.config.auth, ctx.config.data_dir, ctx.role);
  const app = roleHttpApp(ctx, auth)
    .use(taskRoutes(tasks, streams))
    .use(openApiRoutes([...TASK_API, ...platformApi()], { title: "bpm task-service", version: ctx.version, secured: auth.enabled }));
  const httpPort = serveHttp(ctx, app, ctx.httpPort, () => streams.closeAll());

  const grpc = new GrpcServer({ role: ctx.role, log: ctx.log, metrics: ctx.metrics, authenticate: auth.authenticate, credentials: grpcCredentials(ctx.config.grpc_tls).server });
  addTaskGrpc(grpc, tasks);
  const grpcPort = await serveGrpc(ctx, grpc, ctx.grpcPort ?? 0);

  ctx.lifecycle.onShutdown("close", "task store", () => store.close());
  return { role: ctx.role, httpPort, grpcPort };
}
