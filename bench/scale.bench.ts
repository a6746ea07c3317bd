/**
 * Task lists at scale: 1,000,000 tasks in SQLite and in PostgreSQL, one user with 100,000 of them, all roles in one
 * process, requests through the gateway (admin token), wrk -c8. The same data file is served by the
 * code before list paging changed (a `git archive` of BEFORE, default the merge base with main) and
 * by this checkout (which adds the list indexes to the file when it opens it), both run from source.
 *
 *   bun bench/scale.bench.ts [seconds per wrk run, default 1] [rounds, default 3]
 *   BEFORE=<commit> picks the baseline; ENGINES=SQLite or ENGINES=PostgreSQL runs one engine.
 * PostgreSQL: the rows are generated inside the server (INSERT … SELECT generate_series) and the
 * second side's database is a CREATE DATABASE … TEMPLATE copy.
 *
 * Prints, before and after: first-page p50 and req/s for the big user and for a user with 20 tasks,
 * per filter; a page 99,000 rows deep (offset before, cursor after); and walking all 100,000 of the
 * big user's tasks page by page (after: every page by cursor; before: sampled offsets, since the
 * whole walk takes minutes), as mean time per page per tenth of the walk.
 * Absolute figures depend on the host's load; compare the columns of one run.
 */
import { Database } from "bun:sqlite";
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { authHeaders, REPO, startBpm, tempDir, type BpmProcess } from "../tests/support/bpm.ts";
import { SQL } from "bun";
import { createLogger, setLogLevel } from "../src/platform/logger.ts";
import { PostgresTaskStore, TASK_MIGRATIONS } from "../src/roles/task-service/store-postgres.ts";
import { SqliteTaskStore } from "../src/roles/task-service/store-sqlite.ts";
import { EVENT_FEED_MIGRATIONS } from "../src/storage/postgres-feed.ts";
import { openPostgres } from "../src/storage/postgres.ts";
import { startPostgres } from "../tests/support/postgres.ts";
import { table, wrk, type WrkResult } from "./lib.ts";

const SECONDS = Number(process.argv[2] ?? 1);
/** Alternating runs per list and user; the figures are their medians. */
const ROUNDS = Number(process.argv[3] ?? 3);
const TOTAL = 1_000_000;
const BIG_USER = 5;
const SMALL_USER = 7;
const PAGE = 100;
const STATUSES = ["todo", "in_progress", "blocked", "done", "cancelled"];

/** The tasks table as the first migration made it, filled in one transaction (the seed's indexes only). */
function generate(path: string): { bigIds: number[] } {
  const db = new Database(path, { create: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA synchronous = OFF");
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)");
  db.exec(readFileSync(join(REPO, "src/roles/task-service/migrations/sqlite_001_init.sql"), "utf8"));
  db.query("INSERT INTO schema_migrations VALUES ('001_init', ?)").run(new Date().toISOString());
  const ins = db.query(
    "INSERT INTO tasks (title, description, priority, status, user_id, project_id, process_instance_id, step_id, created_at, updated_at) VALUES (?, '', 'medium', ?, ?, ?, ?, '', ?, ?)",
  );
  const bigIds: number[] = [];
  const now = "2026-12-07T00:00:00.000Z";
  db.transaction(() => {
    for (let i = 0; i < TOTAL; i++) {
      // the big user's tasks are every 10th row, interleaved with everyone else's as a busy system writes them;
      // the small user, project and instance have 20 rows each, spread over the whole table
      const user = i % 10 === 3 ? BIG_USER : i % 50_000 === 4 ? SMALL_USER : 1000 + (i % 45_000);
      const project = i % 10 === 5 ? 3 : i % 50_000 === 6 ? 4 : i % 2 ? 0 : 100 + (i % 5_000);
      const pid = i % 100 === 9 ? "pi-big" : i % 50_000 === 8 ? "pi-small" : i % 7 === 0 ? `pi-${i % 200_000}` : "";
      const status = STATUSES[(Math.floor(i / 10) + Math.floor(i / 50_000)) % 5]!;
      const r = ins.run(`task ${i}`, status, user, project, pid, now, now);
      if (user === BIG_USER) bigIds.push(Number(r.lastInsertRowid));
    }
  })();
  db.close();
  return { bigIds };
}

/** The code at `commit`, runnable from source with this checkout's dependencies. */
function checkout(commit: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const tar = Bun.spawnSync(["sh", "-c", `git -C "${REPO}" archive ${commit} | tar -x -C "${dir}"`], { stderr: "pipe" });
  if (tar.exitCode !== 0) throw new Error(`git archive ${commit}: ${tar.stderr.toString()}`);
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  return fromSource(dir, join(dir, "bpm-src.sh"));
}

/** A launcher for `dir`'s src/main.ts: both sides run from source, so only the code differs. */
function fromSource(dir: string, runner: string): string {
  writeFileSync(runner, `#!/bin/sh\nexec "${process.execPath}" "${dir}/src/main.ts" "$@"\n`, { mode: 0o755 });
  return runner;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));

async function timedGet(url: string, headers: Record<string, string>): Promise<{ ms: number; body: { items: { id: number }[]; next_cursor?: string | null } }> {
  const t0 = performance.now();
  const r = await fetch(url, { headers });
  const body = (await r.json()) as { items: { id: number }[]; next_cursor?: string | null };
  if (r.status !== 200) throw new Error(`${url}: HTTP ${r.status} ${JSON.stringify(body)}`);
  return { ms: performance.now() - t0, body };
}

/** Until the gateway serves the list again: a run of slow requests can trip its breaker for a while. */
async function serving(api: string, headers: Record<string, string>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${api}?user_id=${SMALL_USER}&limit=1`, { headers });
    await r.arrayBuffer();
    if (r.status === 200) return;
    await Bun.sleep(100);
  }
  throw new Error("the gateway did not serve the task list again within a minute");
}

/** Median p50 and req/s of several runs; errors and requests summed. */
function medianOf(rs: WrkResult[]): WrkResult {
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { rps: med(rs.map((r) => r.rps)), p50Ms: med(rs.map((r) => r.p50Ms)), p99Ms: med(rs.map((r) => r.p99Ms)), errors: rs.reduce((a, r) => a + r.errors, 0), requests: rs.reduce((a, r) => a + r.requests, 0) };
}

const cell = (r: { rps: number; p50Ms: number; errors: number; requests: number }, seconds: number) =>
  r.requests === 0
    ? `none answered within ${seconds} s`
    : `${r.rps < 10 ? r.rps.toFixed(1) : Math.round(r.rps)} req/s, p50 ${ms(r.p50Ms)} ms${r.errors ? ` (${r.errors} of ${r.requests} failed)` : ""}`;

const FILTERS: [string, (big: boolean) => string][] = [
  ["user", (big) => `user_id=${big ? BIG_USER : SMALL_USER}`],
  ["user + status=todo", (big) => `user_id=${big ? BIG_USER : SMALL_USER}&status=todo`],
  ["user + status=done", (big) => `user_id=${big ? BIG_USER : SMALL_USER}&status=done`],
  ["process instance", (big) => `process_instance_id=${big ? "pi-big" : "pi-small"}`],
  ["project", (big) => `project_id=${big ? 3 : 4}`],
];

interface Side {
  lists: Record<string, { big: string; small: string; ratio: string; bigUncounted?: string }>;
  deep: string;
  walk: string[];
}

async function measure(label: string, bpm: BpmProcess, bigIds: number[], after: boolean): Promise<Side> {
  const headers = await authHeaders(1, true);
  const api = `${bpm.url("gateway")}/api/tasks`;
  const lists: Side["lists"] = {};
  // JIT and page cache warm before the first figure
  await wrk(`${api}?user_id=${SMALL_USER}&limit=20`, { connections: 8, seconds: 1, headers });
  for (const [name, q] of FILTERS) {
    if (name === "project" && !after) {
      lists[name] = { big: "(no filter)", small: "", ratio: "" };
      continue;
    }
    // big, small (and uncounted) alternate in ROUNDS short runs, so the host's changing load falls on each alike
    const runs: Record<string, WrkResult[]> = { big: [], small: [], uncounted: [] };
    // before, a request can take seconds: one longer run each
    for (let r = 0; r < (after ? ROUNDS : 1); r++) {
      for (const [key, url] of [["big", `${api}?${q(true)}&limit=20`], ["small", `${api}?${q(false)}&limit=20`], ["uncounted", `${api}?${q(true)}&limit=20&count=none`]] as const) {
        if (key === "uncounted" && !after) continue;
        await serving(api, headers);
        runs[key]!.push(await wrk(url, { connections: 8, seconds: after ? SECONDS : Math.max(SECONDS, 3), headers }));
      }
    }
    const big = medianOf(runs.big!);
    const small = medianOf(runs.small!);
    const seconds = after ? SECONDS : Math.max(SECONDS, 3);
    const bigUncounted = after ? cell(medianOf(runs.uncounted!), seconds) : undefined;
    lists[name] = {
      bigUncounted,
      big: cell(big, seconds),
      small: cell(small, seconds),
      ratio: `${(big.p50Ms / small.p50Ms).toFixed(2)}× p50, ${(small.rps / big.rps).toFixed(2)}× req/s`,
    };
    console.error(`${label} ${name}: ${lists[name].big} | ${lists[name].small}`);
  }
  // a page 99,000 rows into the big user's list
  const deepUrl = after
    ? `${api}?user_id=${BIG_USER}&limit=20&cursor=t${bigIds[98_999]}`
    : `${api}?user_id=${BIG_USER}&limit=20&offset=99000`;
  await serving(api, headers);
  const deep = await wrk(deepUrl, { connections: 8, seconds: Math.max(SECONDS, 3), headers });
  await serving(api, headers);
  const walk: number[][] = Array.from({ length: 10 }, () => []);
  if (after) {
    let cursor: string | null | undefined;
    let page = 0;
    const seen: number[] = [];
    do {
      const r = await timedGet(`${api}?user_id=${BIG_USER}&limit=${PAGE}${cursor ? `&cursor=${cursor}` : ""}`, headers);
      walk[Math.min(9, Math.floor((page * PAGE * 10) / bigIds.length))]!.push(r.ms);
      seen.push(...r.body.items.map((t) => t.id));
      cursor = r.body.next_cursor;
      page++;
    } while (cursor);
    if (seen.length !== bigIds.length || seen.some((id, i) => id !== bigIds[i])) throw new Error(`cursor walk saw ${seen.length} tasks, not the ${bigIds.length} expected in order`);
  } else {
    // 5 pages at the start of each tenth of the walk
    for (let d = 0; d < 10; d++) {
      for (let k = 0; k < 5; k++) walk[d]!.push((await timedGet(`${api}?user_id=${BIG_USER}&limit=${PAGE}&offset=${d * 10_000 + k * PAGE}`, headers)).ms);
    }
  }
  return { lists, deep: cell(deep, Math.max(SECONDS, 3)), walk: walk.map((w) => `${ms(w.reduce((a, b) => a + b, 0) / w.length)} (${w.length})`) };
}

/** Both sides' data: `before` and `after` hold the same rows, under the first migration only. */
interface Prepared {
  bigIds: number[];
  before(runner: string): Promise<BpmProcess>;
  /** Runs migration 002 as the store's open would (timed), then starts this checkout. */
  after(runner: string): Promise<{ bpm: BpmProcess; migrateMs: number }>;
  close(): Promise<void>;
}

async function prepareSqlite(work: string): Promise<Prepared> {
  const gen = join(work, "gen.db");
  const { bigIds } = generate(gen);
  for (const side of ["before", "after"]) {
    mkdirSync(join(work, side), { recursive: true });
    copyFileSync(gen, join(work, side, "task-service.db"));
  }
  rmSync(gen);
  return {
    bigIds,
    before: (runner) => startBpm({ bin: runner, dataDir: join(work, "before") }),
    async after(runner) {
      const t0 = performance.now();
      await new SqliteTaskStore(join(work, "after", "task-service.db"), { synchronous: "NORMAL", busyTimeoutMs: 5_000 }).close();
      const migrateMs = performance.now() - t0;
      return { bpm: await startBpm({ bin: runner, dataDir: join(work, "after") }), migrateMs };
    },
    close: async () => {},
  };
}

/** The same rows generated inside PostgreSQL, copied for the second side with CREATE DATABASE … TEMPLATE. */
async function preparePostgres(work: string): Promise<Prepared> {
  const pg = await startPostgres();
  const url = (db: string) => Object.assign(new URL(pg.url), { pathname: `/${db}` }).toString();
  const admin = new SQL(pg.url, { max: 1 });
  await admin.unsafe("CREATE DATABASE scale_before");
  const first = { ...TASK_MIGRATIONS, migrations: TASK_MIGRATIONS.migrations.slice(0, 1) };
  const db = await openPostgres(url("scale_before"), { name: "scale-gen", migrations: [EVENT_FEED_MIGRATIONS, first], log: createLogger({ bench: "scale" }) });
  await db.sql.unsafe(`INSERT INTO tasks (title, description, priority, status, user_id, project_id, process_instance_id, step_id, created_at, updated_at)
    SELECT 'task ' || i, '', 'medium', (ARRAY['todo','in_progress','blocked','done','cancelled'])[((i / 10) + (i / 50000)) % 5 + 1],
      CASE WHEN i % 10 = 3 THEN ${BIG_USER} WHEN i % 50000 = 4 THEN ${SMALL_USER} ELSE 1000 + i % 45000 END,
      CASE WHEN i % 10 = 5 THEN 3 WHEN i % 50000 = 6 THEN 4 WHEN i % 2 = 1 THEN 0 ELSE 100 + i % 5000 END,
      CASE WHEN i % 100 = 9 THEN 'pi-big' WHEN i % 50000 = 8 THEN 'pi-small' WHEN i % 7 = 0 THEN 'pi-' || (i % 200000) ELSE '' END,
      '', now(), now()
    FROM generate_series(0, ${TOTAL - 1}) AS i ORDER BY i`);
  await db.sql.unsafe("VACUUM ANALYZE tasks");
  const bigIds = ((await db.sql.unsafe(`SELECT id FROM tasks WHERE user_id = ${BIG_USER} ORDER BY id`)) as { id: number }[]).map((r) => r.id);
  await db.close();
  await admin.unsafe("CREATE DATABASE scale_after TEMPLATE scale_before");
  await admin.close();
  const env = (db: string) => ({ DATABASE_URL: url(db) });
  for (const side of ["pg-before", "pg-after"]) mkdirSync(join(work, side), { recursive: true });
  return {
    bigIds,
    before: (runner) => startBpm({ bin: runner, dataDir: join(work, "pg-before"), env: env("scale_before") }),
    async after(runner) {
      const t0 = performance.now();
      await (await PostgresTaskStore.open(url("scale_after"), createLogger({ bench: "scale" }))).close();
      const migrateMs = performance.now() - t0;
      return { bpm: await startBpm({ bin: runner, dataDir: join(work, "pg-after"), env: env("scale_after") }), migrateMs };
    },
    close: () => pg.stop(),
  };
}

async function runEngine(engine: "SQLite" | "PostgreSQL", work: string, beforeRunner: string, afterRunner: string): Promise<void> {
  const t0 = performance.now();
  const data = engine === "SQLite" ? await prepareSqlite(work) : await preparePostgres(work);
  try {
    console.error(`${engine}: generated ${TOTAL} tasks (${data.bigIds.length} for user ${BIG_USER}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const before = await data.before(beforeRunner);
    const b = await measure(`${engine} before`, before, data.bigIds, false);
    await before.stop(60_000);
    const { bpm: afterBpm, migrateMs } = await data.after(afterRunner);
    const a = await measure(`${engine} after`, afterBpm, data.bigIds, true);
    await afterBpm.stop(60_000);
    report(engine, data.bigIds.length, migrateMs, b, a);
  } finally {
    await data.close();
  }
}

function report(engine: string, big: number, migrateMs: number, b: Side, a: Side): void {
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(`\n## ${engine}: ${TOTAL.toLocaleString("en")} tasks, user ${BIG_USER} with ${big.toLocaleString("en")}, user ${SMALL_USER} with 20; --role=all through the gateway; wrk -c8, after: median of ${ROUNDS} alternating ${SECONDS}-s runs, before: one ${Math.max(SECONDS, 3)}-s run; loadavg ${load}`);
  console.log(`migration 002 on the million rows: ${(migrateMs / 1000).toFixed(1)} s\n`);
  console.log(
    table(
      FILTERS.flatMap(([name]) => [
        { "first page, limit=20": name, side: "before", "big user": b.lists[name]!.big, "user with 20": b.lists[name]!.small, "big vs 20": b.lists[name]!.ratio, "big, count=none": "" },
        { "first page, limit=20": "", side: "after", "big user": a.lists[name]!.big, "user with 20": a.lists[name]!.small, "big vs 20": a.lists[name]!.ratio, "big, count=none": a.lists[name]!.bigUncounted ?? "" },
      ]),
    ),
  );
  console.log(`\npage 99,000 rows deep (before offset=99000, after cursor): before ${b.deep}; after ${a.deep}\n`);
  console.log(
    table(b.walk.map((w, i) => ({ "walking 100,000 by pages of 100": `${i * 10}–${i * 10 + 10}%`, "before (offset) ms/page (pages)": w, "after (cursor) ms/page (pages)": a.walk[i]! }))),
  );
}

async function main(): Promise<void> {
  setLogLevel("warn");
  const work = tempDir("bpm-scale-");
  const base = process.env.BEFORE ?? Bun.spawnSync(["git", "-C", REPO, "merge-base", "HEAD", "main"]).stdout.toString().trim();
  const engines = (process.env.ENGINES ?? "SQLite,PostgreSQL").split(",") as ("SQLite" | "PostgreSQL")[];
  try {
    const beforeRunner = checkout(base, join(work, "src-before"));
    const afterRunner = fromSource(REPO, join(work, "bpm-after.sh"));
    console.log(`before = ${base.slice(0, 10)} (git archive), after = this checkout; both run from source`);
    for (const engine of engines) await runEngine(engine, work, beforeRunner, afterRunner);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
