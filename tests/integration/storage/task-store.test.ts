// One behaviour, two engines: every TaskStore guarantee is checked on SQLite and on a real PostgreSQL.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { join } from "node:path";
import * as v from "valibot";
import { CreateTaskSchema, type CreateTask, type Task } from "../../../src/domain/tasks/model.ts";
import { PostgresTaskStore } from "../../../src/roles/task-service/store-postgres.ts";
import { SqliteTaskStore } from "../../../src/roles/task-service/store-sqlite.ts";
import type { TaskStore } from "../../../src/roles/task-service/store.ts";
import { startPostgres, type PostgresServer } from "../../support/postgres.ts";
import { makeTempDir, removeTempDir } from "../../support/process.ts";
import { freshDatabase, quietLogger } from "./databases.ts";

const log = quietLogger();
let pg: PostgresServer;
const tempDirs: string[] = [];
const open: TaskStore[] = [];

beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
// a fast shutdown still writes a checkpoint, which takes seconds on a busy disk
afterAll(async () => {
  await pg?.stop();
  for (const d of tempDirs) removeTempDir(d);
}, 60_000);

/** Some data, and a way to open (another) store on it: a second replica, or the same one after a restart. */
interface Backing {
  open(): Promise<TaskStore>;
}

/** `bulk`: the engine's per-commit flush is off, for tests about reading many rows, not durability. */
type Backend = (opts?: { bulk?: boolean }) => Promise<Backing>;

const backends: [string, Backend][] = [
  [
    "SQLite",
    async (opts) => {
      const dir = makeTempDir("sqlite-store");
      tempDirs.push(dir);
      const path = join(dir, "tasks.db");
      const synchronous = opts?.bulk ? "OFF" : "NORMAL";
      return { open: async () => track(new SqliteTaskStore(path, { synchronous: synchronous as "NORMAL", busyTimeoutMs: 5_000 })) };
    },
  ],
  [
    "PostgreSQL",
    async (opts) => {
      const url = await freshDatabase(pg);
      if (opts?.bulk) {
        const admin = new SQL(url, { max: 1 });
        await admin.unsafe(`ALTER DATABASE "${new URL(url).pathname.slice(1)}" SET synchronous_commit = off`);
        await admin.close();
      }
      return { open: async () => track(await PostgresTaskStore.open(url, log)) };
    },
  ],
];

function track<T extends TaskStore>(s: T): T {
  open.push(s);
  return s;
}

const T0 = "2026-03-01T10:00:00.000Z";
const T1 = "2026-03-01T10:05:30.123Z";
const task = (over: Partial<Record<keyof CreateTask, unknown>> = {}): CreateTask => v.parse(CreateTaskSchema, { title: "write report", user_id: 7, ...over });

async function all(it: AsyncIterable<Task>): Promise<Task[]> {
  const out: Task[] = [];
  for await (const t of it) out.push(t);
  return out;
}

describe.each(backends)("TaskStore on %s", (_name, backing) => {
  let store: TaskStore;
  let data: Backing;
  const fresh = async (opts?: { bulk?: boolean }) => {
    data = await backing(opts);
    store = await data.open();
  };

  test("create fills defaults and timestamps; get returns the same task", async () => {
    await fresh();
    const { task: t, created } = await store.create(task({ description: "Q1 numbers", priority: "high", project_id: 3, process_instance_id: "p-1", step_id: "s-1" }), T0);
    expect(created).toBe(true);
    expect(t).toEqual({
      id: t.id,
      title: "write report",
      description: "Q1 numbers",
      priority: "high",
      status: "todo",
      user_id: 7,
      project_id: 3,
      process_instance_id: "p-1",
      step_id: "s-1",
      created_at: T0,
      updated_at: T0,
    });
    expect(t.id).toBeGreaterThan(0);
    expect(await store.get(t.id)).toEqual(t);
    expect(await store.get(t.id + 1000)).toBeUndefined();
  });

  test("text round-trips exactly: unicode, quotes, a 1 MiB description", async () => {
    await fresh();
    const description = "ğüşiöç 漢字 🎉 'quoted' \"double\" \\ %_ ".repeat(10) + "x".repeat(1024 * 1024);
    const { task: t } = await store.create(task({ title: "Öneri: İzin talebi", description }), T0);
    const got = await store.get(t.id);
    expect(got?.title).toBe("Öneri: İzin talebi");
    expect(got?.description).toBe(description);
  });

  test("update changes only the given fields and moves updated_at", async () => {
    await fresh();
    const { task: t } = await store.create(task({ description: "keep me", priority: "low" }), T0);
    const u = await store.update(t.id, { status: "in_progress" }, T1);
    expect(u).toEqual({ ...t, status: "in_progress", updated_at: T1 });
    const u2 = await store.update(t.id, { title: "rewritten", priority: "critical", user_id: 9, description: "" }, T1);
    expect(u2).toEqual({ ...t, title: "rewritten", priority: "critical", user_id: 9, description: "", status: "in_progress", updated_at: T1 });
    expect(await store.get(t.id)).toEqual(u2);
    expect(await store.update(t.id + 1000, { status: "done" }, T1)).toBeUndefined();
  });

  test("delete returns the task once; afterwards it is gone", async () => {
    await fresh();
    const { task: t } = await store.create(task(), T0);
    const { task: other } = await store.create(task({ title: "stays" }), T0);
    expect(await store.delete(t.id)).toEqual(t);
    expect(await store.get(t.id)).toBeUndefined();
    expect(await store.delete(t.id)).toBeUndefined();
    expect(await store.get(other.id)).toEqual(other);
    expect(await store.count({})).toBe(1);
  });

  test("list filters by user, status and process instance; count agrees; limit/offset page in id order", async () => {
    await fresh();
    const made: Task[] = [];
    for (let i = 0; i < 30; i++) {
      const { task: t } = await store.create(
        task({ title: `t${i}`, user_id: 1 + (i % 3), status: i % 2 ? "done" : "todo", process_instance_id: i < 5 ? "proc-A" : "" }),
        T0,
      );
      made.push(t);
    }
    const ids = (ts: Task[]) => ts.map((t) => t.id);
    const expectFilter = async (filter: { user_id?: number; status?: "todo" | "done"; process_instance_id?: string }, pick: (t: Task) => boolean) => {
      const want = made.filter(pick);
      expect(ids(await all(store.list({ ...filter, offset: 0 })))).toEqual(ids(want));
      expect(await store.count(filter)).toBe(want.length);
    };
    await expectFilter({}, () => true);
    await expectFilter({ user_id: 2 }, (t) => t.user_id === 2);
    await expectFilter({ status: "done" }, (t) => t.status === "done");
    await expectFilter({ user_id: 1, status: "todo" }, (t) => t.user_id === 1 && t.status === "todo");
    await expectFilter({ process_instance_id: "proc-A" }, (t) => t.process_instance_id === "proc-A");
    await expectFilter({ user_id: 99 }, () => false);

    expect(ids(await all(store.list({ limit: 7, offset: 0 })))).toEqual(ids(made.slice(0, 7)));
    expect(ids(await all(store.list({ limit: 7, offset: 25 })))).toEqual(ids(made.slice(25)));
    expect(ids(await all(store.list({ user_id: 3, limit: 2, offset: 3 })))).toEqual(ids(made.filter((t) => t.user_id === 3).slice(3, 5)));
    expect(await all(store.list({ limit: 5, offset: 30 }))).toEqual([]);
  });

  test("10,000 tasks stream in id order across pages; offset and limit cut exactly", async () => {
    await fresh({ bulk: true });
    // the same rows through the store's own create, concurrently as a busy server would
    for (let i = 0; i < 10_000; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => store.create(task({ title: `bulk ${i + j}`, user_id: 5 }), T0)));
    }
    const listed = await all(store.list({ user_id: 5, offset: 0 }));
    expect(listed.length).toBe(10_000);
    expect(listed.every((t, i) => i === 0 || t.id > listed[i - 1]!.id)).toBe(true);
    expect(new Set(listed.map((t) => t.title)).size).toBe(10_000);
    expect(await store.count({ user_id: 5 })).toBe(10_000);
    const page = await all(store.list({ user_id: 5, limit: 1000, offset: 8_500 }));
    expect(page.map((t) => t.id)).toEqual(listed.slice(8_500, 9_500).map((t) => t.id));
    const tail = await all(store.list({ user_id: 5, limit: 50, offset: 9_990 }));
    expect(tail.map((t) => t.id)).toEqual(listed.slice(9_990).map((t) => t.id));
  }, 120_000);

  test("a repeated create with the same idempotency key returns the first task, created=false", async () => {
    await fresh();
    const first = await store.create(task({ title: "first", idempotency_key: "proc-1/step-a" }), T0);
    const again = await store.create(task({ title: "second, different body", idempotency_key: "proc-1/step-a" }), T1);
    expect(first.created).toBe(true);
    expect(again).toEqual({ task: first.task, created: false });
    const other = await store.create(task({ idempotency_key: "proc-1/step-b" }), T0);
    expect(other.created).toBe(true);
    expect(other.task.id).not.toBe(first.task.id);
    // tasks without a key never collide
    await store.create(task(), T0);
    await store.create(task(), T0);
    expect(await store.count({})).toBe(4);
  });

  test("concurrent creates with one key from two replicas make exactly one task", async () => {
    await fresh();
    const replica = await data.open();
    for (let round = 0; round < 5; round++) {
      const key = `race-${round}`;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? store : replica).create(task({ title: `try ${i}`, idempotency_key: key }), T0)),
      );
      expect(results.filter((r) => r.created).length).toBe(1);
      expect(new Set(results.map((r) => r.task.id)).size).toBe(1);
      expect(new Set(results.map((r) => r.task.title)).size).toBe(1);
    }
    expect(await store.count({})).toBe(5);
  });

  test("a key freed by deleting its task can be used again", async () => {
    await fresh();
    const first = await store.create(task({ idempotency_key: "k" }), T0);
    await store.delete(first.task.id);
    const second = await store.create(task({ idempotency_key: "k" }), T1);
    expect(second.created).toBe(true);
    expect(second.task.id).not.toBe(first.task.id);
  });

  test("a write on one replica is read by another; data survives reopening", async () => {
    await fresh();
    const { task: t } = await store.create(task({ title: "shared" }), T0);
    const replica = await data.open();
    expect(await replica.get(t.id)).toEqual(t);
    await replica.update(t.id, { status: "blocked" }, T1);
    expect((await store.get(t.id))?.status).toBe("blocked");
    await store.close();
    open.splice(open.indexOf(store), 1);
    const reopened = await data.open();
    expect((await reopened.get(t.id))?.status).toBe("blocked");
  });

  test("ping answers while the store is open", async () => {
    await fresh();
    await store.ping();
  });
});
