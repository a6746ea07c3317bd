// Task list paging on both engines: cursors stay exact under concurrent inserts and deletes, every
// filter is served by an index in id order, the bounded total, and the index migration on old data.
import { Database } from "bun:sqlite";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { join } from "node:path";
import * as v from "valibot";
import { CreateTaskSchema, ListTasksQuerySchema, type CreateTask, type Task, type TaskMatch } from "../../../src/domain/tasks/model.ts";
import { TaskService } from "../../../src/roles/task-service/service.ts";
import { PostgresTaskStore, TASK_MIGRATIONS, taskPageQuery as pgPageQuery } from "../../../src/roles/task-service/store-postgres.ts";
import { SqliteTaskStore, TASK_SQLITE_MIGRATIONS, taskPageQuery as sqlitePageQuery } from "../../../src/roles/task-service/store-sqlite.ts";
import type { TaskStore } from "../../../src/roles/task-service/store.ts";
import { EVENT_FEED_MIGRATIONS } from "../../../src/storage/postgres-feed.ts";
import { openPostgres } from "../../../src/storage/postgres.ts";
import { migrate } from "../../../src/storage/sqlite.ts";
import { startPostgres, type PostgresServer } from "../../support/postgres.ts";
import { LOCAL_OPERATOR as OPERATOR, principalOf } from "../../../src/platform/principal.ts";
import { makeTempDir, removeTempDir } from "../../support/process.ts";
import { freshDatabase, quietLogger } from "./databases.ts";

const log = quietLogger();
let pg: PostgresServer;
const tempDirs: string[] = [];
const open: TaskStore[] = [];
const clients: { close(): Promise<void> | void }[] = [];

beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => {});
  for (const c of clients.splice(0)) await c.close();
});
afterAll(async () => {
  await pg?.stop();
  for (const d of tempDirs) removeTempDir(d);
}, 60_000);

const T0 = "2026-03-01T10:00:00.000Z";
const task = (over: Partial<Record<keyof CreateTask, unknown>> = {}): CreateTask => v.parse(CreateTaskSchema, { title: "t", user_id: 9, ...over });
const track = <T extends TaskStore>(s: T): T => (open.push(s), s);

/** A fresh store, and how to reach its data directly (plans, old schemas). */
interface Engine {
  name: string;
  /** A fresh database with only the given task migrations applied (all of them when omitted). */
  fresh(onlyFirst?: boolean): Promise<{ store: () => Promise<TaskStore>; plan(filter: TaskMatch): Promise<string>; raw(sql: string): Promise<unknown[]> }>;
}

const engines: Engine[] = [
  {
    name: "SQLite",
    async fresh(onlyFirst) {
      const dir = makeTempDir("task-paging");
      tempDirs.push(dir);
      const path = join(dir, "tasks.db");
      const db = new Database(path, { create: true, strict: true });
      db.exec("PRAGMA journal_mode = WAL");
      clients.push(db);
      migrate(db, onlyFirst ? TASK_SQLITE_MIGRATIONS.slice(0, 1) : TASK_SQLITE_MIGRATIONS);
      return {
        store: async () => track(new SqliteTaskStore(path, { synchronous: "NORMAL", busyTimeoutMs: 5_000 })),
        async plan(filter) {
          const q = sqlitePageQuery(filter, 0, 20, 0);
          return db.query<{ detail: string }, Record<string, string | number>>(`EXPLAIN QUERY PLAN ${q.sql}`).all(q.params).map((r) => r.detail).join("\n");
        },
        async raw(sql) {
          return db.query(sql).all();
        },
      };
    },
  },
  {
    name: "PostgreSQL",
    async fresh(onlyFirst) {
      const url = await freshDatabase(pg, "paging");
      if (onlyFirst) {
        const db = await openPostgres(url, { name: "old", migrations: [EVENT_FEED_MIGRATIONS, { ...TASK_MIGRATIONS, migrations: TASK_MIGRATIONS.migrations.slice(0, 1) }], log });
        await db.close();
      }
      const sql = new SQL(url, { max: 1 });
      clients.push(sql);
      return {
        store: async () => track(await PostgresTaskStore.open(url, log)),
        async plan(filter) {
          const q = pgPageQuery(filter, 0, 20, 0);
          // small tables would be read whole; forbid that so the plan shows which index gives the order
          const rows = await sql.begin(async (tx) => {
            await tx.unsafe("SET LOCAL enable_seqscan = off");
            await tx.unsafe("SET LOCAL enable_bitmapscan = off");
            return tx.unsafe(`EXPLAIN ${q.text}`, q.params as never[]);
          });
          return (rows as { "QUERY PLAN": string }[]).map((r) => r["QUERY PLAN"]).join("\n");
        },
        async raw(text) {
          return [...(await sql.unsafe(text))];
        },
      };
    },
  },
];

const FILTERS: [string, TaskMatch, (t: Task) => boolean][] = [
  ["user", { user_id: 9 }, (t) => t.user_id === 9],
  ["user + status", { user_id: 9, status: "todo" }, (t) => t.user_id === 9 && t.status === "todo"],
  ["status", { status: "done" }, (t) => t.status === "done"],
  ["process instance", { process_instance_id: "pi-1" }, (t) => t.process_instance_id === "pi-1"],
  ["project", { project_id: 4 }, (t) => t.project_id === 4],
  ["none", {}, () => true],
];

/** 240 tasks spread over two users, two statuses, two projects, one process instance. */
async function seed(store: TaskStore): Promise<Task[]> {
  const made: Task[] = [];
  for (let i = 0; i < 240; i += 40) {
    const batch = await Promise.all(
      Array.from({ length: 40 }, (_, j) => {
        const n = i + j;
        return store.create(task({ title: `seed ${n}`, user_id: n % 3 ? 9 : 10, status: n % 2 ? "done" : "todo", project_id: n % 4 ? 4 : 5, process_instance_id: n % 5 ? "" : "pi-1" }), T0);
      }),
    );
    made.push(...batch.map((r) => r.task));
  }
  return made.sort((a, b) => a.id - b.id);
}

/**
 * Walks a filtered list page by page while, between pages and concurrently, tasks matching it are
 * created and deleted: the lowest and the highest not-yet-deleted seeded match go each round (one
 * behind the walk, one ahead of it). `next` fetches a page from a position.
 */
async function walkUnderChurn(
  store: TaskStore,
  seeded: Task[],
  filter: TaskMatch,
  next: (pos: { cursor?: string; offset: number }) => Promise<{ items: Task[]; cursor?: string | null; offset: number }>,
): Promise<{ seen: number[]; stable: number[]; deleted: Set<number> }> {
  const victims = seeded.filter((t, i) => i % 2 === 0);
  const deleted = new Set<number>();
  let round = 0;
  const churn = async () => {
    round++;
    await store.create(task({ title: `new ${round}`, ...filter, status: filter.status ?? "todo", user_id: filter.user_id ?? 9 }), T0);
    for (const pick of [victims.shift(), victims.pop()]) {
      if (!pick) continue;
      await store.delete(pick.id);
      deleted.add(pick.id);
    }
  };
  let walking = true;
  // a second writer that does not wait for the walk
  const background = (async () => {
    while (walking && victims.length > 0) {
      await churn();
      await new Promise((r) => setImmediate(r));
    }
  })();
  const seen: number[] = [];
  let pos: { cursor?: string; offset: number } = { offset: 0 };
  for (let pages = 0; pages < 500; pages++) {
    const page = await next(pos);
    seen.push(...page.items.map((t) => t.id));
    await churn();
    if (page.cursor === null || page.items.length === 0) break;
    pos = page.cursor !== undefined ? { cursor: page.cursor, offset: 0 } : { offset: page.offset + page.items.length };
  }
  walking = false;
  await background;
  const stable = seeded.filter((t) => !deleted.has(t.id)).map((t) => t.id);
  return { seen, stable, deleted };
}

describe.each(engines)("task list paging on $name", (engine) => {
  for (const [label, filter, matches] of FILTERS) {
    test(`cursor walk (${label}) under concurrent inserts and deletes: every task that existed throughout, exactly once, in id order`, async () => {
      const data = await engine.fresh();
      const store = await data.store();
      const service = new TaskService(store);
      const seeded = (await seed(store)).filter(matches);
      const { seen, stable, deleted } = await walkUnderChurn(store, seeded, filter, async ({ cursor }) => {
        const q = v.parse(ListTasksQuerySchema, { ...filter, limit: "7", cursor, count: "none" });
        const page = await service.page(OPERATOR, q);
        expect(page.items.every(matches)).toBe(true);
        return { items: page.items, cursor: page.next_cursor, offset: 0 };
      });
      expect(deleted.size).toBeGreaterThan(4);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.every((id, i) => i === 0 || id > seen[i - 1]!)).toBe(true);
      const seenSet = new Set(seen);
      expect(stable.filter((id) => !seenSet.has(id))).toEqual([]);
    }, 60_000);
  }

  test("offset paging under the same churn skips tasks that existed throughout (why cursors exist)", async () => {
    const data = await engine.fresh();
    const store = await data.store();
    const service = new TaskService(store);
    const seeded = (await seed(store)).filter((t) => t.user_id === 9);
    const { seen, stable } = await walkUnderChurn(store, seeded, { user_id: 9 }, async ({ offset }) => {
      const page = await service.page(OPERATOR, v.parse(ListTasksQuerySchema, { user_id: "9", limit: "7", offset: String(offset) }));
      return { items: page.items, offset };
    });
    const seenSet = new Set(seen);
    expect(stable.filter((id) => !seenSet.has(id)).length).toBeGreaterThan(0);
  }, 60_000);

  test("the offset path still answers; its next_cursor continues exactly where the page ended; null after the last", async () => {
    const data = await engine.fresh();
    const store = await data.store();
    const service = new TaskService(store);
    const mine = (await seed(store)).filter((t) => t.user_id === 9);
    const q = (over: Record<string, string>) => v.parse(ListTasksQuerySchema, { user_id: "9", ...over });
    const byOffset = await service.page(OPERATOR, q({ limit: "10", offset: "30" }));
    expect(byOffset.items.map((t) => t.id)).toEqual(mine.slice(30, 40).map((t) => t.id));
    expect(byOffset).toMatchObject({ limit: 10, offset: 30, total: mine.length, total_relation: "eq" });
    const after = await service.page(OPERATOR, q({ limit: "10", cursor: byOffset.next_cursor! }));
    expect(after.items.map((t) => t.id)).toEqual(mine.slice(40, 50).map((t) => t.id));
    const last = await service.page(OPERATOR, q({ limit: String(mine.length - 150), offset: "150" }));
    expect(last.items.length).toBe(mine.length - 150);
    expect(last.next_cursor).toBeNull();
    const exact = await service.page(OPERATOR, q({ limit: String(mine.length) }));
    expect(exact.next_cursor).toBeNull();
  }, 60_000);

  test("a user's pages hold only their own tasks, cursor and total alike; naming another user finds nothing", async () => {
    const data = await engine.fresh();
    const store = await data.store();
    const service = new TaskService(store);
    const mine = (await seed(store)).filter((t) => t.user_id === 10);
    const user10 = principalOf({ sub: "10", admin: false, roles: [] });
    const seen: number[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await service.page(user10, v.parse(ListTasksQuerySchema, { limit: "9", cursor, count: "exact" }));
      expect(page.total).toBe(mine.length);
      seen.push(...page.items.map((t) => t.id));
      if (page.next_cursor === null) break;
      cursor = page.next_cursor;
    }
    expect(seen).toEqual(mine.map((t) => t.id));
    const other = await service.page(user10, v.parse(ListTasksQuerySchema, { user_id: "9", count: "exact" }));
    expect(other).toMatchObject({ items: [], next_cursor: null, total: 0 });
  }, 60_000);

  test("an offset with a cursor skips rows after it; cursors that are not next_cursors fail the schema; one past every id is an empty last page", async () => {
    const data = await engine.fresh();
    const store = await data.store();
    const service = new TaskService(store);
    await seed(store);
    const q = (over: Record<string, string>) => v.parse(ListTasksQuerySchema, { user_id: "9", ...over });
    const mine = (await service.page(OPERATOR, q({ limit: "1000" }))).items;
    const skipped = await service.page(OPERATOR, q({ cursor: service.cursorAfter(mine[9]!), offset: "3", limit: "4" }));
    expect(skipped.items.map((t) => t.id)).toEqual(mine.slice(13, 17).map((t) => t.id));
    for (const bad of ["!!", "i5", "t-1", "t1e3", "t99999999999", "dGFza3M6NQ"]) {
      expect(v.safeParse(ListTasksQuerySchema, { user_id: "9", cursor: bad }).success).toBe(false);
      await expect(Promise.resolve().then(() => service.cursorPosition(bad, "cursor"))).rejects.toMatchObject({ code: "VALIDATION_FAILED", details: [{ field: "cursor" }] });
    }
    expect(await service.page(OPERATOR, q({ cursor: "t9999999999" }))).toMatchObject({ items: [], next_cursor: null });
  }, 60_000);

  test("total: capped at 1,000 by default (eq below, gte above), exact on request, absent with count=none", async () => {
    const data = await engine.fresh();
    const store = await data.store();
    const service = new TaskService(store);
    for (let i = 0; i < 1005; i += 201) await Promise.all(Array.from({ length: 201 }, (_, j) => store.create(task({ title: `c${i + j}`, user_id: 3 }), T0)));
    await store.create(task({ user_id: 4 }), T0);
    const q = (over: Record<string, string>) => v.parse(ListTasksQuerySchema, { limit: "2", ...over });
    expect(await service.page(OPERATOR, q({ user_id: "3" }))).toMatchObject({ total: 1000, total_relation: "gte" });
    expect(await service.page(OPERATOR, q({ user_id: "3", count: "exact" }))).toMatchObject({ total: 1005, total_relation: "eq" });
    expect(await service.page(OPERATOR, q({ user_id: "4" }))).toMatchObject({ total: 1, total_relation: "eq" });
    const none = await service.page(OPERATOR, q({ user_id: "3", count: "none" }));
    expect("total" in none || "total_relation" in none).toBe(false);
    expect(none.items.length).toBe(2);
  }, 120_000);

  test("every filter's page is read from an index in id order: no sort, no table scan", async () => {
    const data = await engine.fresh();
    await seed(await data.store());
    for (const [, filter] of FILTERS) {
      const plan = await data.plan(filter);
      if (engine.name === "SQLite") {
        expect(plan).not.toContain("TEMP B-TREE");
        expect(plan).toMatch(/SEARCH tasks USING (INDEX|INTEGER PRIMARY KEY)/);
      } else {
        expect(plan).not.toContain("Sort");
        expect(plan).toMatch(/Index (Only )?Scan using/);
        if (Object.keys(filter).length > 0) expect(plan).not.toContain("tasks_pkey");
      }
    }
  }, 60_000);

  test("the index migration runs on a store that already holds tasks", async () => {
    const data = await engine.fresh(true);
    // rows written under the first schema only; the store's open then migrates them
    const rows = Array.from({ length: 50 }, (_, i) => `('old ${i}', 'medium', 'todo', ${7 + (i % 2)}, '${T0}', '${T0}')`).join(", ");
    await data.raw(`INSERT INTO tasks (title, priority, status, user_id, created_at, updated_at) VALUES ${rows}`);
    const service = new TaskService(await data.store());
    const page = await service.page(OPERATOR, v.parse(ListTasksQuerySchema, { user_id: "7", limit: "10", count: "exact" }));
    expect(page.total).toBe(25);
    expect(page.items.map((t) => t.title)).toEqual(Array.from({ length: 10 }, (_, i) => `old ${2 * i}`));
    const next = await service.page(OPERATOR, v.parse(ListTasksQuerySchema, { user_id: "7", limit: "10", cursor: page.next_cursor! }));
    expect(next.items.map((t) => t.title)).toEqual(Array.from({ length: 10 }, (_, i) => `old ${20 + 2 * i}`));
    const indexes = engine.name === "SQLite"
      ? await data.raw("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tasks'")
      : await data.raw("SELECT indexname AS name FROM pg_indexes WHERE tablename = 'tasks'");
    const names = (indexes as { name: string }[]).map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(["tasks_user", "tasks_status", "tasks_user_status", "tasks_process_instance", "tasks_project"]));
  }, 60_000);
});
