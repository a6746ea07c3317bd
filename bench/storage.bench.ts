/**
 * task-service REST latency per storage engine, against SQLite (WAL, synchronous NORMAL) measured
 * in the same run: 1k sequential creates, 1k sequential gets, then creates at 32 in flight; and for
 * PostgreSQL, how long a write on replica A takes to reach an SSE stream on replica B.
 *   bun bench/storage.bench.ts [requests]
 * Every create is acknowledged after its commit: PostgreSQL and SQLite FULL flush the WAL per commit,
 * SQLite NORMAL does not (it survives kill -9, not power loss), so the disk's fsync time shows here.
 */
import { postJson, startBpm, type BpmProcess } from "../tests/support/bpm.ts";
import { startPostgres } from "../tests/support/postgres.ts";
import { table } from "./lib.ts";

const N = Number(process.argv[2] ?? 1_000);
const IN_FLIGHT = 32;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function timed(fn: () => Promise<Response>): Promise<number> {
  const t0 = performance.now();
  const r = await fn();
  await r.arrayBuffer();
  if (r.status >= 300) throw new Error(`HTTP ${r.status}`);
  return performance.now() - t0;
}

async function measure(engine: string, bpm: BpmProcess): Promise<Record<string, string | number>> {
  const api = `${bpm.url("task-service")}/api/tasks`;
  for (let i = 0; i < 50; i++) await timed(() => postJson(api, { title: `warm ${i}`, user_id: 1 }));
  const creates: number[] = [];
  const ids: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const r = await postJson(api, { title: `seq ${i}`, user_id: 1 + (i % 7) });
    ids.push(((await r.json()) as { id: number }).id);
    creates.push(performance.now() - t0);
  }
  const gets: number[] = [];
  for (const id of ids) gets.push(await timed(() => fetch(`${api}/${id}`)));
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < N * 2) {
        next++;
        await timed(() => postJson(api, { title: "burst", user_id: 3 }));
      }
    }),
  );
  const burstPerSec = (N * 2) / ((performance.now() - t0) / 1000);
  return {
    engine,
    "create p50 ms": pct(creates, 50),
    "create p99 ms": pct(creates, 99),
    "get p50 ms": pct(gets, 50),
    "get p99 ms": pct(gets, 99),
    [`creates/s @${IN_FLIGHT}`]: Math.round(burstPerSec),
  };
}

/** Write on A → event on B's SSE stream, one at a time. */
async function crossReplica(a: BpmProcess, b: BpmProcess): Promise<{ p50: number; p99: number }> {
  const ac = new AbortController();
  const res = await fetch(`${b.url("task-service")}/api/tasks/stream?user_id=99`, { signal: ac.signal });
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let waiter: (() => void) | undefined;
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (done) return;
      if (dec.decode(value).includes("event: created")) waiter?.();
    }
  })();
  const lat: number[] = [];
  for (let i = 0; i < Math.min(N, 300); i++) {
    const arrived = new Promise<void>((r) => (waiter = r));
    const t0 = performance.now();
    await (await postJson(`${a.url("task-service")}/api/tasks`, { title: `x${i}`, user_id: 99 })).arrayBuffer();
    await arrived;
    lat.push(performance.now() - t0);
  }
  ac.abort();
  return { p50: pct(lat, 50), p99: pct(lat, 99) };
}

/** Storage, not credentials, is measured here: task-service asks for none. */
const AUTH_OFF = { auth: { enabled: false } };
const rows: Record<string, string | number>[] = [];
const roles = ["task-service" as const];
for (const synchronous of ["NORMAL", "FULL"]) {
  const bpm = await startBpm({ roles, config: { ...AUTH_OFF, storage: { sqlite: { synchronous } } } });
  rows.push(await measure(`sqlite ${synchronous}`, bpm));
  await bpm.stop();
}
const pg = await startPostgres();
try {
  const a = await startBpm({ roles, config: AUTH_OFF, env: { DATABASE_URL: pg.url } });
  rows.push(await measure("postgresql", a));
  const b = await startBpm({ roles, config: AUTH_OFF, env: { DATABASE_URL: pg.url } });
  const x = await crossReplica(a, b);
  await Promise.all([a.stop(), b.stop()]);
  const base = rows[0]!;
  for (const r of rows) r["create p50 ×"] = `${((r["create p50 ms"] as number) / (base["create p50 ms"] as number)).toFixed(1)}×`;
  console.log(`task-service REST, ${N} sequential creates and gets, then ${N * 2} creates at ${IN_FLIGHT} in flight (ratios vs sqlite NORMAL)`);
  console.log(table(rows));
  console.log(`\nPostgreSQL, POST on replica A → SSE event on replica B: p50 ${x.p50.toFixed(2)} ms, p99 ${x.p99.toFixed(2)} ms`);
} finally {
  await pg.stop();
}
