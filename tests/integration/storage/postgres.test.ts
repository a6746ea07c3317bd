// PostgreSQL-only guarantees: migrations under an advisory lock, readable startup errors,
// events from every replica exactly once (also after a lost connection), 503 while the server is down.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import type { CreateTask, Task, TaskEvent } from "../../../src/domain/tasks/model.ts";
import { UnavailableError } from "../../../src/platform/errors.ts";
import { PostgresTaskStore, TASK_EVENTS_CHANNEL, TASK_MIGRATIONS } from "../../../src/roles/task-service/store-postgres.ts";
import { EVENT_FEED_MIGRATIONS, PostgresEventFeed } from "../../../src/storage/postgres-feed.ts";
import { DatabaseStartupError, migratePostgres, openPostgres, type PostgresDb } from "../../../src/storage/postgres.ts";
import { startPostgres, type PostgresServer } from "../../support/postgres.ts";
import { freePort } from "../../support/ports.ts";
import { freshDatabase, quietLogger } from "./databases.ts";

const log = quietLogger();
let pg: PostgresServer;
const closers: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  await pg?.stop();
}, 60_000);

const NOW = "2026-03-01T10:00:00.000Z";
const input = (title: string, over: Partial<CreateTask> = {}): CreateTask => ({
  title, description: "", priority: "medium" as const, status: "todo" as const, user_id: 1, project_id: 0, process_instance_id: "", step_id: "", ...over,
});

async function store(url: string, events?: TaskEvent[], opts: { eventSweepMs?: number } = {}): Promise<PostgresTaskStore> {
  const s = await PostgresTaskStore.open(url, log, events ? { ...opts, onEvent: (e) => events.push(e) } : opts);
  closers.push(() => s.close());
  return s;
}

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** The first result of `fn` that does not throw. */
async function eventually<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await Bun.sleep(100);
    }
  }
}

const summary = (events: TaskEvent[]) => events.map((e) => `${e.event_type} ${e.task.title}`);

describe("migrations", () => {
  test("six replicas migrating one fresh database at once: each migration runs exactly once, none fails", async () => {
    const url = await freshDatabase(pg);
    // a slow migration widens the race: without the lock a second runner fails with "relation already exists"
    const slow = { namespace: "race", migrations: [{ id: "001_slow", sql: "SELECT pg_sleep(0.3); CREATE TABLE raced (x int);" }] };
    const pools = Array.from({ length: 6 }, () => new SQL(url, { max: 2 }));
    try {
      const applied = await Promise.all(
        pools.map(async (sql) => [...(await migratePostgres(sql, EVENT_FEED_MIGRATIONS)), ...(await migratePostgres(sql, slow)), ...(await migratePostgres(sql, TASK_MIGRATIONS))]),
      );
      expect(applied.flat().sort()).toEqual(["001_events", "001_init", "001_slow", "002_list_indexes"]);
      const rows = await pools[0]!`SELECT namespace, id FROM schema_migrations ORDER BY namespace, id`;
      expect(rows.map((r: { namespace: string; id: string }) => `${r.namespace}/${r.id}`)).toEqual(["bpm-events/001_events", "race/001_slow", "task-service/001_init", "task-service/002_list_indexes"]);
      // a later start finds nothing to do
      expect(await migratePostgres(pools[1]!, slow)).toEqual([]);
    } finally {
      for (const p of pools) await p.close();
    }
  }, 30_000);

  test("two task stores opened at the same moment on a fresh database both work", async () => {
    const url = await freshDatabase(pg);
    const [a, b] = await Promise.all([store(url), store(url)]);
    const { task } = await a.create(input("from a"), NOW);
    expect(await b.get(task.id)).toEqual(task);
  });
});

describe("startup errors are one readable line without the password", () => {
  const secret = () => new URL(pg.url).password;
  async function startupError(url: string): Promise<string> {
    const err = await openPostgres(url, { name: "test", migrations: [], connectTimeoutMs: 3_000 }).then(
      (db) => db.close().then(() => new Error("opened")),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatabaseStartupError);
    const msg = (err as Error).message;
    expect(msg).not.toContain("\n");
    expect(msg).not.toContain(secret());
    return msg;
  }

  test("nothing listens on the port", async () => {
    const port = await freePort();
    const url = pg.url.replace(`:${pg.port}/`, `:${port}/`);
    expect(await startupError(url)).toMatch(new RegExp(`^cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}/bpm: `));
  });

  test("wrong password", async () => {
    expect(await startupError(pg.url.replace(`:${secret()}@`, ":not-the-password@"))).toMatch(/^PostgreSQL at 127\.0\.0\.1:\d+\/bpm refused: password authentication failed .*28P01/);
  });

  test("no such database", async () => {
    expect(await startupError(pg.url.replace(/\/bpm$/, "/nope"))).toMatch(/database "nope" does not exist/);
  });

  test("not a postgres:// URL", async () => {
    expect(await startupError("mysql://u:p@127.0.0.1/x")).toContain("must start with postgres:// or postgresql://");
    expect(await startupError("localhost:5432")).toContain("must start with postgres://");
  });
});

describe("events across replicas", () => {
  test("created/updated/deleted written on A reach B (and A) exactly once, in order", async () => {
    const url = await freshDatabase(pg);
    const seenA: TaskEvent[] = [];
    const seenB: TaskEvent[] = [];
    const a = await store(url, seenA);
    await store(url, seenB);
    const { task } = await a.create(input("t1", { user_id: 42 }), NOW);
    const updated = await a.update(task.id, { status: "done" }, "2026-03-01T10:01:00.000Z");
    await a.delete(task.id);
    await until("three events on B", () => seenB.length >= 3);
    await until("three events on A", () => seenA.length >= 3);
    await Bun.sleep(100); // room for a duplicate to show up
    expect(seenB.map((e) => e.event_type)).toEqual(["created", "updated", "deleted"]);
    expect(seenB[0]!.task).toEqual(task);
    expect(seenB[1]!.task).toEqual(updated!);
    expect(seenB[2]!.task).toEqual(updated!);
    expect(seenB[1]!.timestamp).toBe("2026-03-01T10:01:00.000Z");
    expect(seenA).toEqual(seenB);
  });

  test("an idempotent repeat and a failed write publish nothing", async () => {
    const url = await freshDatabase(pg);
    const seen: TaskEvent[] = [];
    const a = await store(url, seen);
    await a.create(input("once", { idempotency_key: "k" }), NOW);
    await a.create(input("twice", { idempotency_key: "k" }), NOW);
    expect(await a.update(999_999, { status: "done" }, NOW)).toBeUndefined();
    await a.create(input("marker"), NOW);
    await until("marker", () => seen.some((e) => e.task.title === "marker"));
    expect(summary(seen)).toEqual(["created once", "created marker"]);
  });

  test("events larger than NOTIFY's 8000 bytes arrive whole and in order", async () => {
    const url = await freshDatabase(pg);
    const seen: TaskEvent[] = [];
    const a = await store(url);
    await store(url, seen);
    const big = "ü".repeat(300_000);
    await a.create(input("small 1"), NOW);
    await a.create(input("big", { description: big }), NOW);
    await a.create(input("small 2"), NOW);
    await until("three events", () => seen.length >= 3);
    expect(summary(seen)).toEqual(["created small 1", "created big", "created small 2"]);
    expect(seen[1]!.task.description).toBe(big);
  });

  test("when two replicas' notices for one task cross, the older event is dropped", async () => {
    const url = await freshDatabase(pg);
    const seen: TaskEvent[] = [];
    const a = await store(url);
    await store(url, seen);
    const { task } = await a.create(input("contended"), NOW);
    await until("created", () => seen.length === 1);
    // two updates committed in this order (seq order), whose notices arrive the other way round
    const raw = await openPostgres(url, { name: "test", migrations: [] });
    closers.push(() => raw.close());
    const event = (status: string) => JSON.stringify({ event_type: "updated", task: { ...task, status }, timestamp: NOW });
    const [first] = await raw.sql`SELECT bpm_emit(${TASK_EVENTS_CHANNEL}, ${event("in_progress")}) AS notice`;
    const [second] = await raw.sql`SELECT bpm_emit(${TASK_EVENTS_CHANNEL}, ${event("done")}) AS notice`;
    raw.notify(TASK_EVENTS_CHANNEL, second.notice);
    raw.notify(TASK_EVENTS_CHANNEL, first.notice);
    await raw.flushNotifications();
    await a.create(input("marker"), NOW);
    await until("marker", () => seen.some((e) => e.task.title === "marker"));
    expect(seen.map((e) => `${e.event_type} ${e.task.status}`)).toEqual(["created todo", "updated done", "created todo"]);
  });

  test("a replica whose listener was cut off replays the events it missed, once", async () => {
    const url = await freshDatabase(pg);
    const role = `replica_${process.pid}`;
    const admin = new SQL(url, { max: 1 });
    closers.push(() => admin.close());
    await admin.unsafe(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD 'replica-pw'`);
    const bUrl = new URL(url);
    bUrl.username = role;
    bUrl.password = "replica-pw";

    const seenB: TaskEvent[] = [];
    const a = await store(url);
    // no sweep: only the reconnect can bring the missed events
    const b = await store(bUrl.toString(), seenB, { eventSweepMs: 0 });
    await a.create(input("before"), NOW);
    await until("first event", () => seenB.length === 1);

    // B cannot log in again until we allow it, so what A writes now can only reach B by replay
    await admin.unsafe(`ALTER ROLE ${role} NOLOGIN`);
    const [cut] = await admin`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE usename = ${role} AND query ILIKE 'LISTEN%'`;
    expect(cut.n).toBe(1);
    const { task } = await a.create(input("while away"), NOW);
    await a.update(task.id, { status: "blocked" }, NOW);
    await Bun.sleep(300);
    expect(seenB.length).toBe(1);

    await admin.unsafe(`ALTER ROLE ${role} LOGIN`);
    await until("replayed events", () => seenB.length >= 3, 30_000);
    await a.create(input("after"), NOW);
    await until("live again", () => seenB.length >= 4);
    await Bun.sleep(100);
    expect(summary(seenB)).toEqual(["created before", "created while away", "updated while away", "created after"]);
    expect(b.eventStats).toMatchObject({ resyncs: 1, recovered: 2, delivered: 4 });
  }, 60_000);
});

describe("the generic event feed", () => {
  let db: PostgresDb;
  beforeAll(async () => {
    db = await openPostgres(await freshDatabase(pg), { name: "feed-test", migrations: [EVENT_FEED_MIGRATIONS], log });
    closers.push(() => db.close());
  });
  const emit = async (channel: string, payload: string): Promise<string> => {
    const [row] = await db.sql`SELECT bpm_emit(${channel}, ${payload}) AS notice`;
    return row.notice as string;
  };

  test("live on notice; a lost notice is recovered by the sweep; rolled back, duplicate and foreign events never arrive", async () => {
    const got: string[] = [];
    const feed = await PostgresEventFeed.open(db, { channel: "feed_test", onEvent: (p) => got.push(p), sweepEveryMs: 0, sweepGraceMs: 1, retentionMs: 0, pruneEveryMs: 0 });
    closers.push(() => feed.close());
    const one = await emit("feed_test", "one");
    db.notify("feed_test", one);
    await until("live event", () => got.length === 1);

    // committed, but its writer died before the notice went out
    await emit("feed_test", "two");
    await db.transaction(async (tx) => {
      await tx`SELECT bpm_emit('feed_test', 'rolled back')`;
      throw new Error("abort");
    }).catch(() => {});
    db.notify("other_channel", await emit("other_channel", "not for us"));
    db.notify("feed_test", one);
    await db.flushNotifications();
    await Bun.sleep(50);
    expect(got).toEqual(["one"]);

    await feed.sweepNow();
    expect(got).toEqual(["one", "two"]);
    expect(feed.stats).toMatchObject({ delivered: 2, recovered: 1, resyncs: 0 });
    await feed.sweepNow();
    expect(got).toEqual(["one", "two"]);

    expect(await feed.prune()).toBe(2);
    const [left] = await db.sql`SELECT count(*)::int AS n FROM bpm_events`;
    expect(left.n).toBe(1); // other_channel's event belongs to its own feed
  });
});

describe("the transaction helper", () => {
  let db: PostgresDb;
  beforeAll(async () => {
    db = await openPostgres(await freshDatabase(pg), { name: "tx-test", migrations: [{ namespace: "tx", migrations: [{ id: "001", sql: "CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL); INSERT INTO counter VALUES (1, 0);" }] }], log });
    closers.push(() => db.close());
  });

  test("commits when the callback resolves, rolls back and rethrows when it throws", async () => {
    await db.transaction((tx) => tx`UPDATE counter SET n = 10 WHERE id = 1`);
    const err = await db.transaction(async (tx) => {
      await tx`UPDATE counter SET n = 99 WHERE id = 1`;
      throw new Error("changed my mind");
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe("changed my mind");
    const [row] = await db.sql`SELECT n FROM counter WHERE id = 1`;
    expect(row.n).toBe(10);
  });

  test("serializable read-modify-writes that collide are retried until each has committed once", async () => {
    await db.sql`UPDATE counter SET n = 0 WHERE id = 1`;
    const bump = () =>
      db.transaction(
        async (tx) => {
          const [row] = await tx`SELECT n FROM counter WHERE id = 1`;
          await Bun.sleep(5); // all five read before any writes: they must collide
          await tx`UPDATE counter SET n = ${row.n + 1} WHERE id = 1`;
        },
        { isolation: "serializable", retries: 20 },
      );
    await Promise.all(Array.from({ length: 5 }, bump));
    const [row] = await db.sql`SELECT n FROM counter WHERE id = 1`;
    expect(row.n).toBe(5);
  });
});

describe("while the server is down", () => {
  let own: PostgresServer;
  beforeAll(async () => {
    own = await startPostgres();
  }, 60_000);
  afterAll(() => own?.stop(), 60_000);

  test("requests fail with 503 DATABASE_UNAVAILABLE; after a restart reads, writes and events work again", async () => {
    const seen: TaskEvent[] = [];
    const s = await store(own.url, seen);
    const { task } = await s.create(input("survives"), NOW);
    await own.kill();
    const err = await s.get(task.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err).toMatchObject({ httpStatus: 503, code: "DATABASE_UNAVAILABLE" });
    expect((err as Error).message).not.toContain(new URL(own.url).password);
    await expect(s.ping()).rejects.toBeInstanceOf(UnavailableError);

    await own.restart();
    expect(await eventually(() => s.get(task.id), 30_000)).toEqual(task);
    await until("listener back", () => (s.eventStats?.resyncs ?? 0) >= 1, 30_000);
    await s.create(input("after restart"), NOW);
    await until("event after restart", () => seen.some((e) => e.task.title === "after restart"));
  }, 90_000);
});
