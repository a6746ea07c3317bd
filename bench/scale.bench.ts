/**
 * Task lists at scale: 1,000,000 tasks in SQLite, one user with 100,000 of them, all roles in one
 * process, requests through the gateway (admin token), wrk -c8. The same data file is served by the
 * code before list paging changed (a `git archive` of BEFORE, default the merge base with main) and
 * by this checkout (which adds the list indexes to the file when it opens it), both run from source.
 *
 *   bun bench/scale.bench.ts [seconds per wrk run, default 3]   (BEFORE=<commit> to pick the baseline)
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
import { SqliteTaskStore } from "../src/roles/task-service/store-sqlite.ts";
import { table, wrk } from "./lib.ts";

const SECONDS = Number(process.argv[2] ?? 3);
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

const cell = (r: { rps: number; p50Ms: number; errors: number; requests: number }) =>
  r.requests === 0
    ? `none answered within ${SECONDS} s`
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
    await serving(api, headers);
    const big = await wrk(`${api}?${q(true)}&limit=20`, { connections: 8, seconds: SECONDS, headers });
    await serving(api, headers);
    const small = await wrk(`${api}?${q(false)}&limit=20`, { connections: 8, seconds: SECONDS, headers });
    let bigUncounted: string | undefined;
    if (after) {
      await serving(api, headers);
      bigUncounted = cell(await wrk(`${api}?${q(true)}&limit=20&count=none`, { connections: 8, seconds: SECONDS, headers }));
    }
    lists[name] = {
      bigUncounted,
      big: cell(big),
      small: cell(small),
      ratio: `${(big.p50Ms / small.p50Ms).toFixed(2)}× p50, ${(small.rps / big.rps).toFixed(2)}× req/s`,
    };
    console.error(`${label} ${name}: ${lists[name].big} | ${lists[name].small}`);
  }
  // a page 99,000 rows into the big user's list
  const deepUrl = after
    ? `${api}?user_id=${BIG_USER}&limit=20&cursor=${Buffer.from(`tasks:${bigIds[98_999]}`).toString("base64url")}`
    : `${api}?user_id=${BIG_USER}&limit=20&offset=99000`;
  await serving(api, headers);
  const deep = await wrk(deepUrl, { connections: 8, seconds: SECONDS, headers });
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
  return { lists, deep: cell(deep), walk: walk.map((w) => `${ms(w.reduce((a, b) => a + b, 0) / w.length)} (${w.length})`) };
}

async function main(): Promise<void> {
  const work = tempDir("bpm-scale-");
  const base = process.env.BEFORE ?? Bun.spawnSync(["git", "-C", REPO, "merge-base", "HEAD", "main"]).stdout.toString().trim();
  try {
    let t0 = performance.now();
    const gen = join(work, "gen.db");
    const { bigIds } = generate(gen);
    console.error(`generated ${TOTAL} tasks (${bigIds.length} for user ${BIG_USER}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const side of ["before", "after"]) {
      mkdirSync(join(work, side), { recursive: true });
      copyFileSync(gen, join(work, side, "task-service.db"));
    }
    rmSync(gen);

    const runner = checkout(base, join(work, "src-before"));
    const before = await startBpm({ bin: runner, dataDir: join(work, "before") });
    const b = await measure("before", before, bigIds, false);
    await before.stop(60_000);

    // the store's open runs migration 002 on the million rows, as the role's start would
    t0 = performance.now();
    await new SqliteTaskStore(join(work, "after", "task-service.db"), { synchronous: "NORMAL", busyTimeoutMs: 5_000 }).close();
    const migrateMs = performance.now() - t0;
    t0 = performance.now();
    const afterBpm = await startBpm({ bin: fromSource(REPO, join(work, "bpm-after.sh")), dataDir: join(work, "after") });
    const afterStart = performance.now() - t0;
    const a = await measure("after", afterBpm, bigIds, true);
    await afterBpm.stop(60_000);

    const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
    console.log(`\n${TOTAL.toLocaleString("en")} tasks, user ${BIG_USER} with ${bigIds.length.toLocaleString("en")}, user ${SMALL_USER} with 20; SQLite; --role=all through the gateway; wrk -c8 -d${SECONDS}s; loadavg ${load}`);
    console.log(`before = ${base.slice(0, 10)}, after = this checkout, both from source (migration 002 on the million rows: ${(migrateMs / 1000).toFixed(1)} s)\n`);
    console.log(
      table(
        FILTERS.map(([name]) => ({
          "first page, limit=20": name,
          "before: big": b.lists[name]!.big,
          "before: 20 tasks": b.lists[name]!.small,
          "before: big vs 20": b.lists[name]!.ratio,
          "after: big": a.lists[name]!.big,
          "after: 20 tasks": a.lists[name]!.small,
          "after: big vs 20": a.lists[name]!.ratio,
          "after: big, count=none": a.lists[name]!.bigUncounted ?? "",
        })),
      ),
    );
    console.log(`\npage 99,000 rows deep (before offset=99000, after cursor): before ${b.deep}; after ${a.deep}\n`);
    console.log(
      table(
        b.walk.map((w, i) => ({ "walking 100,000 by pages of 100": `${i * 10}–${i * 10 + 10}%`, "before (offset) ms/page (pages)": w, "after (cursor) ms/page (pages)": a.walk[i]! })),
      ),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
