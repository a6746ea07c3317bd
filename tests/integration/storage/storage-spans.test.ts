// Storage spans on the real stores, both engines: one db CLIENT span per store call, under the span that made it.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { parseFormDefinition } from "../../../src/domain/forms/index.ts";
import { taskKey, type Effect, type ProcessInstance } from "../../../src/domain/process/index.ts";
import { PostgresFormStore } from "../../../src/roles/form-service/store-postgres.ts";
import { SqliteFormStore } from "../../../src/roles/form-service/store-sqlite.ts";
import { FORM_STORE_SPANS, type FormStore } from "../../../src/roles/form-service/store.ts";
import { PostgresProcessStore } from "../../../src/roles/process-service/store-postgres.ts";
import { SqliteProcessStore } from "../../../src/roles/process-service/store-sqlite.ts";
import { PROCESS_STORE_SPANS, type ProcessStore } from "../../../src/roles/process-service/store.ts";
import { PostgresTaskStore } from "../../../src/roles/task-service/store-postgres.ts";
import { SqliteTaskStore } from "../../../src/roles/task-service/store-sqlite.ts";
import { TASK_STORE_SPANS, type TaskStore } from "../../../src/roles/task-service/store.ts";
import { postgresTarget, sqliteTarget, traceStore, type StorageSpanTarget } from "../../../src/telemetry/storage-spans.ts";
import { runInSpan, shutdownTracing, startSpan } from "../../../src/telemetry/tracing.ts";
import { parentOf, tracingToMemory } from "../../unit/telemetry/helpers.ts";
import { bothEngines } from "./databases.ts";

afterEach(() => shutdownTracing());

interface Stores {
  system: StorageSpanTarget["system"];
  targets: { tasks: StorageSpanTarget; forms: StorageSpanTarget; processes: StorageSpanTarget };
  tasks: TaskStore;
  forms: FormStore;
  processes: ProcessStore;
  close(): Promise<void>;
}

const sqliteOpts = { synchronous: "NORMAL", busyTimeoutMs: 5_000 } as const;
const backends = bothEngines<Stores>(
  "spans",
  (dir) => {
    const tasks = new SqliteTaskStore(join(dir, "task-service.db"), sqliteOpts);
    const forms = new SqliteFormStore(join(dir, "form-service.db"), sqliteOpts);
    const processes = new SqliteProcessStore(join(dir, "process-service.db"), sqliteOpts);
    const targets = { tasks: sqliteTarget(join(dir, "task-service.db")), forms: sqliteTarget(join(dir, "form-service.db")), processes: sqliteTarget(join(dir, "process-service.db")) };
    return { system: "sqlite", targets, tasks, forms, processes, close: async () => void (await Promise.all([tasks.close(), forms.close(), processes.close()])) };
  },
  async (url, log) => {
    const [tasks, forms, processes] = await Promise.all([PostgresTaskStore.open(url, log), PostgresFormStore.open(url, log), PostgresProcessStore.open(url, log)]);
    const target = postgresTarget(url);
    return { system: "postgresql", targets: { tasks: target, forms: target, processes: target }, tasks, forms, processes, close: async () => void (await Promise.all([tasks.close(), forms.close(), processes.close()])) };
  },
);

const NOW = "2026-03-01T10:00:00.000Z";
const T0 = Date.parse(NOW);
const instance = (id: string): ProcessInstance => ({
  id, definition_key: "leave", definition_version: 1, status: "running", current_step: "a", current_assignee: 7, end_state: null,
  variables: {}, history: [], started_by: 7, created_at: NOW, updated_at: NOW, revision: 1,
});
const createEffect = (id: string): Effect => ({
  kind: "createTask", instanceId: id, stepId: "a", visit: 1, taskKey: taskKey(id, "a", 1), idempotencyKey: taskKey(id, "a", 1),
  assigneeUserId: 7, title: "t", description: "d", priority: "medium",
});

/** Runs `fn` inside a SERVER span of `role`, as a request handler would; returns that span's id. */
async function inRequest(role: string, fn: () => Promise<unknown>): Promise<string> {
  const server = startSpan("GET /api/things", { role, kind: SpanKind.SERVER });
  try {
    await runInSpan(server, fn);
  } finally {
    server.end();
  }
  return server.spanContext().spanId;
}

const summary = (s: ReadableSpan) => `${s.name} ${s.attributes["db.operation.name"]} ${s.attributes["db.collection.name"]}`;

for (const [engine, backend] of backends) {
  describe(`storage spans on ${engine}`, () => {
    test("each store call in a request is one db CLIENT span, child of the request's span, with db.* and no parameters", async () => {
      const t = await tracingToMemory(["task-service", "form-service", "process-service"]);
      const raw = await (await backend())();
      const system = raw.system;
      const tasks = traceStore(raw.tasks, raw.targets.tasks, TASK_STORE_SPANS);
      const forms = traceStore(raw.forms, raw.targets.forms, FORM_STORE_SPANS[system]);
      const processes = traceStore(raw.processes, raw.targets.processes, PROCESS_STORE_SPANS[system]);

      const secret = `secret-title-${crypto.randomUUID()}`;
      let id = 0;
      const taskServer = await inRequest("task-service", async () => {
        id = (await tasks.create({ title: secret, description: "", priority: "low", status: "todo", user_id: 1, project_id: 0, process_instance_id: "", step_id: "" }, NOW)).task.id;
        expect((await tasks.get(id))!.title).toBe(secret);
        await tasks.update(id, { status: "done" }, NOW);
      });
      const formServer = await inRequest("form-service", async () => {
        await forms.publish(parseFormDefinition({ key: "leave", title: "Leave", fields: [{ name: "days", type: "integer" }] }), NOW);
        await forms.submit({ form_key: "leave", form_version: 1, data: { days: 3 }, submitted_by: 1, process_instance_id: "", step_id: "" }, crypto.randomUUID(), NOW);
      });
      const processServer = await inRequest("process-service", async () => {
        await processes.createInstance(instance("i1"), [createEffect("i1")], { now: T0 });
        await processes.updateInstance({ ...instance("i1"), revision: 2 }, 1, [], { now: T0 });
      });

      const spans = (await t.spans()).filter((s) => s.kind === SpanKind.CLIENT);
      const tables = system === "sqlite" ? { submissions: "submissions", instances: "instances" } : { submissions: "form_submissions", instances: "process_instances" };
      expect(spans.map(summary)).toEqual([
        "INSERT tasks INSERT tasks",
        "SELECT tasks SELECT tasks",
        "UPDATE tasks UPDATE tasks",
        "INSERT forms INSERT forms",
        `INSERT ${tables.submissions} INSERT ${tables.submissions}`,
        `INSERT ${tables.instances} INSERT ${tables.instances}`,
        `UPDATE ${tables.instances} UPDATE ${tables.instances}`,
      ]);
      const parents = [taskServer, taskServer, taskServer, formServer, formServer, processServer, processServer];
      expect(spans.map(parentOf)).toEqual(parents);
      // each span reports under the role whose request made it
      expect(spans.map((s) => s.resource.attributes["service.name"])).toEqual([...Array(3).fill("task-service"), ...Array(2).fill("form-service"), ...Array(2).fill("process-service")]);
      const namespaces = system === "sqlite" ? ["task-service.db", "form-service.db", "process-service.db"] : Array(3).fill(raw.targets.tasks.namespace);
      expect(spans.map((s) => s.attributes["db.namespace"])).toEqual([...Array(3).fill(namespaces[0]), ...Array(2).fill(namespaces[1]), ...Array(2).fill(namespaces[2])]);
      for (const s of spans) {
        expect(s.attributes).toMatchObject({ "db.system.name": system, "db.system": system });
        expect(s.status.code).toBe(SpanStatusCode.UNSET);
        // statements' parameters never reach a span
        expect(JSON.stringify(s.attributes)).not.toContain(secret);
      }
      // PostgreSQL: the database's name, never host, user or password
      if (system === "postgresql") expect(raw.targets.tasks.namespace).toMatch(/^spans_\d+_\d+$/);
    });

    test("a streamed listing is one span from the first page to the last", async () => {
      const t = await tracingToMemory(["task-service"]);
      const raw = await (await backend())();
      const tasks = traceStore(raw.tasks, raw.targets.tasks, TASK_STORE_SPANS);
      for (let i = 0; i < 1_100; i++) await raw.tasks.create({ title: `t${i}`, description: "", priority: "low", status: "todo", user_id: 2, project_id: 0, process_instance_id: "", step_id: "" }, NOW);
      let seen = 0;
      const server = await inRequest("task-service", async () => {
        // three pages of 500
        for await (const _ of tasks.list({ user_id: 2, limit: 2_000, offset: 0 })) seen++;
      });
      expect(seen).toBe(1_100);
      const spans = await t.spans();
      const list = spans.filter((s) => s.name === "SELECT tasks");
      expect(list.length).toBe(1);
      expect(parentOf(list[0]!)).toBe(server);
      // abandoning a stream early ends its span too
      await inRequest("task-service", async () => {
        for await (const _ of tasks.list({ user_id: 2, limit: 2_000, offset: 0 })) break;
      });
      expect((await t.spans()).filter((s) => s.name === "SELECT tasks").length).toBe(2);
    });

    test("store work outside any request (polling, scrapes) makes no spans; a failed call marks its span failed", async () => {
      const t = await tracingToMemory(["process-service"]);
      const raw = await (await backend())();
      const processes = traceStore(raw.processes, raw.targets.processes, PROCESS_STORE_SPANS[raw.system]);
      await processes.createInstance(instance("i9"), [createEffect("i9")], { now: T0 });
      expect((await processes.dueOutbox(T0, 10, new Set())).length).toBe(1);
      await processes.outboxCounts();
      expect(await t.spans()).toEqual([]);

      await inRequest("process-service", async () => {
        await expect(processes.createInstance({ ...instance("i9") }, [], { now: T0 })).rejects.toThrow();
      });
      const [failed] = (await t.spans()).filter((s) => s.kind === SpanKind.CLIENT);
      expect(failed!.name).toBe(raw.system === "sqlite" ? "INSERT instances" : "INSERT process_instances");
      expect(failed!.status.code).toBe(SpanStatusCode.ERROR);
    });

    test("with tracing off the store is returned untouched: its methods are the class's own", async () => {
      const raw = await (await backend())();
      const tasks = traceStore(raw.tasks, raw.targets.tasks, TASK_STORE_SPANS);
      expect(tasks).toBe(raw.tasks);
      expect(Object.getOwnPropertyNames(tasks)).not.toContain("get");
      expect(tasks.get).toBe(Object.getPrototypeOf(raw.tasks).get);
    });
  });
}
