/**
 * Leave-process instances started and run to the end (start + 3 completed steps) per second,
 * through the gateway (JWT, rate limit, balancer) against straight to process-service, measured in
 * the same run; p50/p99 per call; CPU of the processes. Topology: all roles in one process on
 * SQLite (default), or `pg`: every role its own process on PostgreSQL.
 *   bun bench/process-flow.bench.ts [instances=300] [concurrency=16] [sqlite|pg]
 */
import { authHeaders, json, postJson, startBpm, type BpmProcess } from "../tests/support/bpm.ts";
import { startPostgres } from "../tests/support/servers.ts";
import { allocatePorts, deployLeave, LEAVE_VARIABLES, startRoles } from "../tests/integration/process-helpers.ts";
import { cpuSeconds, table } from "./lib.ts";

const N = Number(process.argv[2] ?? 300);
const C = Number(process.argv[3] ?? 16);
const MODE = process.argv[4] === "pg" ? "pg" : "sqlite";

let procs: BpmProcess[];
let gw: string;
let direct: string;
let stopAll: () => Promise<void>;
if (MODE === "pg") {
  const pg = await startPostgres();
  const ports = await allocatePorts();
  const env = { DATABASE_URL: pg.url };
  procs = [];
  for (const role of ["task-service", "form-service", "process-service"] as const) procs.push(await startRoles([role], ports, { env }));
  procs.push(await startRoles(["gateway"], ports));
  gw = procs[3]!.url("gateway");
  direct = procs[2]!.url("process-service");
  stopAll = async () => {
    for (const p of procs) await p.stop();
    await pg.stop();
  };
} else {
  const bpm = await startBpm();
  procs = [bpm];
  gw = bpm.url("gateway");
  direct = bpm.url("process-service");
  stopAll = async () => void (await bpm.stop());
}
const cpuAll = () => procs.reduce((a, p) => a + cpuSeconds(p.proc.pid), 0);
const users = { alice: await authHeaders(11), bob: await authHeaders(22), carol: await authHeaders(33) };
await deployLeave({ forms: gw, processes: gw }, users.bob);

type Step = "start" | "request" | "manager-approval" | "hr-record";
const STEPS: Step[] = ["start", "request", "manager-approval", "hr-record"];

async function call(url: string, body: unknown, headers: Record<string, string>, expect: number): Promise<{ ms: number; body: any }> {
  const t0 = performance.now();
  const r = await json(postJson(url, body, headers));
  const ms = performance.now() - t0;
  if (r.status !== expect) throw new Error(`${url}: ${r.status} ${JSON.stringify(r.body)}`);
  return { ms, body: r.body };
}

/** One instance from start to its end state; returns each call's latency. */
async function runOne(viaGateway: boolean): Promise<Record<Step, number>> {
  const base = viaGateway ? gw : direct;
  const as = (who: keyof typeof users, id: number) => (viaGateway ? { headers: users[who], extra: {} } : { headers: {}, extra: { user_id: id } });
  const t: Partial<Record<Step, number>> = {};
  const started = await call(`${base}/api/processes/leave/instances`, { variables: LEAVE_VARIABLES, ...(viaGateway ? {} : { started_by: 11 }) }, viaGateway ? users.alice : {}, 201);
  t.start = started.ms;
  const id = started.body.id;
  const steps: [Step, keyof typeof users, number, unknown][] = [
    ["request", "alice", 11, { start_date: "2025-07-01", days: 3 }],
    ["manager-approval", "bob", 22, { approved: true }],
    ["hr-record", "carol", 33, { hr_reference: "HR-1234" }],
  ];
  for (const [step, who, uid, data] of steps) {
    const a = as(who, uid);
    t[step] = (await call(`${base}/api/processes/instances/${id}/complete`, { step_id: step, data, ...a.extra }, a.headers, 200)).ms;
  }
  return t as Record<Step, number>;
}

async function run(viaGateway: boolean) {
  const samples: Record<Step, number>[] = [];
  let next = 0;
  const cpu0 = cpuAll();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: C }, async () => {
    while (next++ < N) samples.push(await runOne(viaGateway));
  }));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuAll() - cpu0;
  const pct = (step: Step, p: number) => {
    const xs = samples.map((s) => s[step]).sort((a, b) => a - b);
    return xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  };
  return { seconds, cpu, instancesPerSecond: N / seconds, pct };
}

// warm-up (JIT, caches, connections) then the measured runs, direct first as the baseline
await Promise.all(Array.from({ length: C }, () => runOne(true)));
const baseline = await run(false);
const gateway = await run(true);
await stopAll();

const row = (name: string, r: typeof baseline) => ({
  path: name,
  "instances/s": r.instancesPerSecond,
  "calls/s": r.instancesPerSecond * 4,
  "ratio": r.instancesPerSecond / baseline.instancesPerSecond,
  "CPU s / 100 inst": (r.cpu / N) * 100,
  ...Object.fromEntries(STEPS.flatMap((s) => [[`${s} p50 ms`, r.pct(s, 0.5)], [`${s} p99 ms`, r.pct(s, 0.99)]])),
});
console.log(`${N} leave instances (start + 3 steps each), ${C} at a time, ${MODE === "pg" ? "every role its own process, PostgreSQL" : "all roles in one process, SQLite"}`);
console.log(table([row("process-service direct", baseline), row("through the gateway", gateway)]));
process.exit(0);
