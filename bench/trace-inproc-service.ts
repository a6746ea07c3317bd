/**
 * In-process cost of the tracing work of one task-service request: GET /api/tasks/:id through
 * the role's Elysia app (createHttpApp + taskRoutes, SQLite store wrapped by traceStore) with
 * app.handle, each request carrying the gateway's traceparent. Modes run in child processes,
 * interleaved in rounds; prints CPU µs per request (median of rounds) per mode.
 *
 *   bun bench/trace-inproc-service.ts [rounds=7] [requests=20000] [modes=off,out,rec] [src=../src,…]
 *
 * off: no OTLP endpoint; out: parentbased_traceidratio 0.1 and a sampled-out parent (flags 00),
 * what 90% of requests are at 10% sampling; outctx: the same in a role that calls out (no declareLeafRole:
 * the caller's context stays active); rec: the parent sampled (flags 01), spans recorded and
 * discarded. `src`: one or more checkouts' `src` (comma-separated), run in turn (A/B of two builds).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const rounds = Number(process.argv[2] ?? 7);
const N = Number(process.argv[3] ?? 20_000);
const modes = (process.argv[4] ?? "off,out,rec").split(",");
const srcs = (process.argv[5] ?? "../src").split(",").map((s) => resolve(import.meta.dir, s));

if (process.env.TRACE_INPROC_CHILD) {
  await child(process.env.TRACE_INPROC_CHILD, process.env.TRACE_INPROC_MODE!);
  process.exit(0);
}

const results = new Map<string, number[]>();
for (let r = 0; r < rounds; r++) {
  const order = srcs.flatMap((s) => modes.map((m) => [s, m] as const));
  if (r % 2 === 1) order.reverse();
  for (const [s, m] of order) {
    const p = Bun.spawn([process.execPath, import.meta.path, String(rounds), String(N)], { env: { ...process.env, TRACE_INPROC_CHILD: s, TRACE_INPROC_MODE: m }, stdout: "pipe", stderr: "inherit" });
    const out = (await new Response(p.stdout).text()).trim();
    await p.exited;
    const key = `${srcs.length > 1 ? s + " " : ""}${m}`;
    if (!results.has(key)) results.set(key, []);
    results.get(key)!.push(Number(out));
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [k, xs] of results) console.log(`${k.padEnd(40)} ${median(xs).toFixed(2)} µs/request  (${xs.map((x) => x.toFixed(2)).join(" ")})`);

async function child(src: string, mode: string): Promise<void> {
  const tracing = await import(`${src}/telemetry/tracing.ts`);
  const { Metrics } = await import(`${src}/telemetry/metrics.ts`);
  const { createHttpApp } = await import(`${src}/platform/http.ts`);
  const { HealthRegistry } = await import(`${src}/platform/health.ts`);
  const { Lifecycle } = await import(`${src}/platform/lifecycle.ts`);
  const { createLogger } = await import(`${src}/platform/logger.ts`);
  const { taskRoutes } = await import(`${src}/roles/task-service/rest.ts`);
  const { TaskService } = await import(`${src}/roles/task-service/service.ts`);
  const { SqliteTaskStore } = await import(`${src}/roles/task-service/store-sqlite.ts`);
  const { TASK_STORE_SPANS } = await import(`${src}/roles/task-service/store.ts`);
  const { SseRegistry } = await import(`${src}/platform/sse.ts`);
  const { sqliteTarget, traceStore } = await import(`${src}/telemetry/storage-spans.ts`);
  const httpSpans = await import(`${src}/telemetry/http-spans.ts`);
  // as startTaskService does (where the checkout has it); "outctx": as a role that calls out would run (context kept)
  if (mode !== "outctx") httpSpans.declareLeafRole?.("task-service");

  const env: Record<string, string> = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" };
  if (mode === "out" || mode === "outctx") Object.assign(env, { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" });
  const discard = { export: (_s: unknown, done: (r: { code: number }) => void) => done({ code: 0 }), shutdown: async () => {} };
  const metrics = new Metrics();
  if (mode !== "off") await tracing.initTracing({ roles: ["task-service"], version: "bench", env, metrics, exporter: discard });

  const dir = mkdtempSync(join(tmpdir(), "trace-inproc-"));
  const path = join(dir, "tasks.db");
  const store = traceStore(new SqliteTaskStore(path, { synchronous: "NORMAL", busyTimeoutMs: 1000 }), sqliteTarget(path), TASK_STORE_SPANS);
  const tasks = new TaskService(store);
  const log = createLogger({ role: "task-service" });
  const principal = { sub: "1", admin: false, roles: [], userId: 1, service: undefined, local: false };
  const app = createHttpApp({ role: "task-service", log, metrics, health: new HealthRegistry(), lifecycle: new Lifecycle(log, 1_000), bodyLimitBytes: 1 << 20, authenticate: () => principal }).use(
    taskRoutes(tasks, new SseRegistry()),
  );
  const created = await tasks.create(principal, { title: "bench", user_id: 1 });
  const url = `http://127.0.0.1/api/tasks/${created.task.id}`;
  const flags = mode === "rec" ? "01" : "00";
  const parents = Array.from({ length: 1024 }, () => `00-${crypto.randomUUID().replaceAll("-", "")}-${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}-${flags}`);
  const request = async (i: number) => {
    const res = await app.handle(new Request(url, { headers: { authorization: "Bearer x", traceparent: parents[i & 1023]!, "x-correlation-id": "c" } }));
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    await res.arrayBuffer();
  };
  const cpu = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  for (let i = 0; i < 5_000; i++) await request(i);
  const t0 = cpu();
  for (let i = 0; i < N; i++) await request(i);
  await tracing.flushTracing();
  const us = (cpu() - t0) / N;
  await tracing.shutdownTracing();
  store.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(us);
}
