import { join } from "node:path";
import { breakerAdminRoutes } from "../../platform/admin.ts";
import { createRoleAuth } from "../../platform/role-auth.ts";
import { grpcCredentials } from "../../platform/grpc-tls.ts";
import { GrpcServer } from "../../platform/grpc.ts";
import { up } from "../../platform/health.ts";
import { roleHttpApp } from "../../platform/http-app.ts";
import { PROCESS_API } from "./api.ts";
import { BREAKER_API, platformApi } from "../../platform/api.ts";
import { openApiRoutes } from "../../platform/openapi-routes.ts";
import type { RoleContext, RoleHandle } from "../../platform/role.ts";
import { serveGrpc, serveHttp } from "../../platform/serve.ts";
import { Downstreams } from "../../transport/downstreams.ts";
import { GrpcFormsClient, GrpcTasksClient } from "./clients.ts";
import { taskDelivery } from "./delivery.ts";
import { addProcessGrpc } from "./grpc.ts";
import type { OutboxStats } from "./model.ts";
import { observeOutbox, outboxTraceparent, recordOutboxDispatch, withOutboxDispatchSpan } from "../../telemetry/outbox.ts";
import { OutboxDispatcher, type OutboxHooks } from "./outbox.ts";
import { processRoutes } from "./rest.ts";
import { ProcessService } from "./service.ts";
import { SqliteProcessStore } from "./store-sqlite.ts";
import { PROCESS_STORE_SPANS, type ProcessStore } from "./store.ts";
import { postgresTarget, sqliteTarget, traceStore } from "../../telemetry/storage-spans.ts";

/** SQLite under the data dir (one instance), or with DATABASE_URL, PostgreSQL shared by replicas. */
export async function openProcessStore(ctx: RoleContext): Promise<ProcessStore> {
  const { config } = ctx;
  if (config.storage.database_url) {
    const { PostgresProcessStore } = await import("./store-postgres.ts");
    const store = await PostgresProcessStore.open(config.storage.database_url, ctx.log);
    return traceStore<ProcessStore>(store, postgresTarget(config.storage.database_url), PROCESS_STORE_SPANS.postgresql);
  }
  const sqlite = config.storage.sqlite;
  const path = join(config.data_dir, "process-service.db");
  const store = new SqliteProcessStore(path, { synchronous: sqlite.synchronous, busyTimeoutMs: sqlite.busy_timeout });
  return traceStore<ProcessStore>(store, sqliteTarget(path), PROCESS_STORE_SPANS.sqlite);
}

/** What a running process-service offers the rest of the process (telemetry hooks in here). */
export interface ProcessServiceHandle extends RoleHandle {
  /** The outbox's backlog: records pending, the oldest one's age. */
  outboxStats(): Promise<OutboxStats>;
}

export async function startProcessService(ctx: RoleContext): Promise<ProcessServiceHandle> {
  const { config, log } = ctx;
  const store = await openProcessStore(ctx);
  const balancers = ctx.balancers;
  const downstreams = new Downstreams(config.resilience4j, ctx.resilience, ctx.metrics);
  ctx.metrics.registerResilience(downstreams.registry);
  const auth = await createRoleAuth(config.auth, config.data_dir, ctx.role);
  const tls = grpcCredentials(config.grpc_tls);
  // calls to form-service and the outbox's to task-service carry this role's own credential
  const forms = new GrpcFormsClient({ balancers, downstreams, role: ctx.role, authorization: auth.serviceAuthorization, channelCredentials: tls.client, channelOptions: tls.channelOptions });
  const tasks = new GrpcTasksClient({ balancers, downstreams, role: ctx.role, authorization: auth.serviceAuthorization, channelCredentials: tls.client, channelOptions: tls.channelOptions });

  // dispatches are counted on /metrics and traced as their own spans, linked to the request that wrote them
  const hooks: OutboxHooks = {
    dispatched: (outcome) => recordOutboxDispatch(ctx.role, outcome, ctx.metrics),
    around: (record, fn) => withOutboxDispatchSpan(ctx.role, { id: record.seq, type: record.effect.kind, traceparent: record.traceparent }, () => fn()),
  };
  let dispatcher: OutboxDispatcher | undefined;
  const processes = new ProcessService(store, forms, { log, onEffects: () => dispatcher?.notify(), traceparent: outboxTraceparent });
  dispatcher = new OutboxDispatcher({
    store,
    deliver: taskDelivery(tasks, store),
    onDead: (record, err) => processes.failForRefusedTask(record, err),
    log: log.child({ component: "outbox" }),
    hooks,
  });
  const outbox = dispatcher;
  observeOutbox(ctx.role, () => outbox.stats(), ctx.metrics);

  ctx.health.register("storage", async () => {
    await store.ping();
    return up({});
  });
  ctx.health.register("outbox", async () => {
    const s = await outbox.stats();
    return up({ pending: s.pending, oldest_age_ms: s.oldestAgeMs, dead: s.dead, inflight: s.inflight });
  });

  const app = roleHttpApp(ctx, auth)
    .use(processRoutes(processes))
    .use(breakerAdminRoutes(downstreams, auth.requireAdmin))
    .use(openApiRoutes([...PROCESS_API, ...BREAKER_API, ...platformApi()], { title: "bpm process-service", version: ctx.version, secured: auth.enabled }));
  const httpPort = serveHttp(ctx, app, ctx.httpPort);

  const grpc = new GrpcServer({ role: ctx.role, log, metrics: ctx.metrics, authenticate: auth.authenticate, credentials: tls.server });
  addProcessGrpc(grpc, processes);
  const grpcPort = await serveGrpc(ctx, grpc, ctx.grpcPort ?? 0);

  outbox.start();
  // deliveries in flight finish (each is bounded by its deadline) before the store closes
  ctx.lifecycle.onShutdown("drain", "outbox", () => outbox.stop());
  ctx.lifecycle.onShutdown("close", "process clients", () => {
    forms.close();
    tasks.close();
  });
  ctx.lifecycle.onShutdown("close", "process store", () => store.close());
  return {
    role: ctx.role,
    httpPort,
    grpcPort,
    outboxStats: async () => {
      const { pending, oldestCreatedAtMs, oldestAgeMs, dead } = await outbox.stats();
      return { pending, oldestAgeMs, dead, ...(oldestCreatedAtMs !== undefined ? { oldestCreatedAtMs } : {}) };
    },
  };
}
