// Instance list paging on both engines: cursors stay exact while instances are started concurrently,
// and every filter is read from an index in the list's order (newest first).
import { Database } from "bun:sqlite";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { join } from "node:path";
import * as v from "valibot";
import type { ProcessInstance } from "../../src/domain/process/index.ts";
import type { FormsPort } from "../../src/roles/process-service/clients.ts";
import { ListInstancesQuerySchema, type InstanceMatch } from "../../src/roles/process-service/model.ts";
import { ProcessService } from "../../src/roles/process-service/service.ts";
import { instancePageQuery as pgPageQuery, PostgresProcessStore } from "../../src/roles/process-service/store-postgres.ts";
import { instancePageQuery as sqlitePageQuery, SqliteProcessStore } from "../../src/roles/process-service/store-sqlite.ts";
import type { ProcessStore } from "../../src/roles/process-service/store.ts";
import { startPostgres, type PostgresServer } from "../support/postgres.ts";
import { LOCAL_OPERATOR as OPERATOR } from "../../src/platform/principal.ts";
import { makeTempDir, removeTempDir } from "../support/process.ts";
import { freshDatabase, quietLogger } from "./storage/databases.ts";

const log = quietLogger();
let pg: PostgresServer;
const tempDirs: string[] = [];
const open: { close(): Promise<void> | void }[] = [];
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
afterAll(async () => {
  await pg?.stop();
  for (const d of tempDirs) removeTempDir(d);
}, 60_000);

interface Engine {
  name: string;
  fresh(): Promise<{ store: ProcessStore; plan(filter: InstanceMatch & { before_id?: string }): Promise<string> }>;
}

const engines: Engine[] = [
  {
    name: "SQLite",
    async fresh() {
      const dir = makeTempDir("instance-paging");
      tempDirs.push(dir);
      const path = join(dir, "process-service.db");
      const store = new SqliteProcessStore(path, { synchronous: "NORMAL", busyTimeoutMs: 5_000 });
      const db = new Database(path, { strict: true });
      open.push(store, db);
      return {
        store,
        async plan(filter) {
          const q = sqlitePageQuery({ ...filter, limit: 20, offset: 0 });
          return db.query<{ detail: string }, Record<string, string | number | null>>(`EXPLAIN QUERY PLAN ${q.sql}`).all(q.params).map((r) => r.detail).join("\n");
        },
      };
    },
  },
  {
    name: "PostgreSQL",
    async fresh() {
      const url = await freshDatabase(pg, "instances");
      const store = await PostgresProcessStore.open(url, log);
      const sql = new SQL(url, { max: 1 });
      open.push(store, sql);
      return {
        store,
        async plan(filter) {
          const q = pgPageQuery({ ...filter, limit: 20, offset: 0 });
          const rows = await sql.begin(async (tx) => {
            await tx.unsafe("SET LOCAL enable_seqscan = off");
            await tx.unsafe("SET LOCAL enable_bitmapscan = off");
            return tx.unsafe(`EXPLAIN ${q.text}`, q.params as never[]);
          });
          return (rows as { "QUERY PLAN": string }[]).map((r) => r["QUERY PLAN"]).join("\n");
        },
      };
    },
  },
];

const NOW = new Date(1_772_000_000_000).toISOString();
function instance(n: number): ProcessInstance {
  return {
    id: Bun.randomUUIDv7(), definition_key: n % 3 ? "leave" : "expense", definition_version: 1, status: n % 4 ? "running" : "completed",
    current_step: "a", current_assignee: n % 2 ? 7 : 8, end_state: null, variables: { n }, history: [{ step_id: "", action: "started", user_id: 7, at: NOW }],
    started_by: n % 5 ? 3 : 4, created_at: NOW, updated_at: NOW, revision: 1,
  };
}
const service = (store: ProcessStore) => new ProcessService(store, {} as FormsPort, { log });

const FILTERS: [string, InstanceMatch, (i: ProcessInstance) => boolean][] = [
  ["none", {}, () => true],
  ["definition", { definition_key: "leave" }, (i) => i.definition_key === "leave"],
  ["status", { status: "running" }, (i) => i.status === "running"],
  ["started by", { started_by: 3 }, (i) => i.started_by === 3],
  ["assignee", { assignee: 7 }, (i) => i.current_assignee === 7],
];

describe.each(engines)("instance list paging on $name", (engine) => {
  test("a cursor walk while instances are started concurrently yields every earlier instance once, newest first", async () => {
    const { store } = await engine.fresh();
    const made: ProcessInstance[] = [];
    for (let n = 0; n < 90; n++) made.push((await store.createInstance(instance(n), [], { now: 0 })).instance);
    const svc = service(store);
    for (const [, filter, matches] of FILTERS) {
      let started = 90;
      let walking = true;
      const writer = (async () => {
        while (walking) {
          await store.createInstance(instance(started++), [], { now: 0 });
          await new Promise((r) => setImmediate(r));
        }
      })();
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await svc.pageInstances(OPERATOR, v.parse(ListInstancesQuerySchema, { ...filter, limit: "4", cursor: cursor ?? undefined, count: "none" }));
        expect(page.items.every(matches)).toBe(true);
        seen.push(...page.items.map((i) => i.id));
        await store.createInstance(instance(started++), [], { now: 0 });
        cursor = page.next_cursor;
      } while (cursor !== null);
      walking = false;
      await writer;
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.every((id, i) => i === 0 || Buffer.compare(Buffer.from(seen[i - 1]!), Buffer.from(id)) > 0)).toBe(true);
      const want = made.filter(matches).map((i) => i.id);
      const seenSet = new Set(seen);
      expect(want.filter((id) => !seenSet.has(id))).toEqual([]);
    }
  }, 60_000);

  test("offset still answers and its next_cursor continues exactly (an offset with it skips after it); totals per count=; bad cursors fail the schema", async () => {
    const { store } = await engine.fresh();
    for (let n = 0; n < 30; n++) await store.createInstance(instance(n), [], { now: 0 });
    const svc = service(store);
    const q = (over: Record<string, string>) => v.parse(ListInstancesQuerySchema, { limit: "5", ...over });
    const all = (await svc.pageInstances(OPERATOR, q({ limit: "100" }))).items.map((i) => i.id);
    expect(all.length).toBe(30);
    const byOffset = await svc.pageInstances(OPERATOR, q({ offset: "10", count: "exact" }));
    expect(byOffset).toMatchObject({ total: 30, total_relation: "eq", offset: 10 });
    expect(byOffset.items.map((i) => i.id)).toEqual(all.slice(10, 15));
    const next = await svc.pageInstances(OPERATOR, q({ cursor: byOffset.next_cursor! }));
    expect(next.items.map((i) => i.id)).toEqual(all.slice(15, 20));
    expect((await svc.pageInstances(OPERATOR, q({ offset: "25" }))).next_cursor).toBeNull();
    // the bounded count behind count=capped: exactly the bound when more match, else the exact number
    expect(await store.countInstances({}, 3)).toBe(3);
    expect(await store.countInstances({}, 30)).toBe(30);
    expect(await store.countInstances({}, 31)).toBe(30);
    expect(await store.countInstances({ definition_key: "leave" }, 1000)).toBe(20);
    expect((await svc.pageInstances(OPERATOR, q({ cursor: byOffset.next_cursor!, offset: "1" }))).items.map((i) => i.id)).toEqual(all.slice(16, 21));
    for (const bad of ["t5", "%%", "i", "i a"]) expect(v.safeParse(ListInstancesQuerySchema, { cursor: bad }).success).toBe(false);
  }, 60_000);

  test("every filter's page is read from an index in id order: no sort, no table scan", async () => {
    const { store, plan } = await engine.fresh();
    for (let n = 0; n < 20; n++) await store.createInstance(instance(n), [], { now: 0 });
    for (const [, filter] of FILTERS) {
      for (const f of [filter, { ...filter, before_id: "0190" }]) {
        const text = await plan(f);
        if (engine.name === "SQLite") {
          expect(text).not.toContain("TEMP B-TREE");
          expect(text).toMatch(/SEARCH instances USING|SCAN instances USING (COVERING )?INDEX/);
        } else {
          expect(text).not.toContain("Sort");
          expect(text).toMatch(/Index (Only )?Scan (Backward )?using/);
        }
      }
    }
  }, 60_000);
});
