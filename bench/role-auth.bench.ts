/**
 * What it costs that every role checks credentials (docs/security.md): GET /api/tasks/:id through
 * gateway + task-service (two processes), this build side by side with a build from before the
 * roles verified tokens (BPM_BASE_BIN), interleaved rounds, medians; then the CPU one request with
 * a junk token (well-formed, bad signature: verified every time, never cached) costs the gateway
 * and task-service, each refusing it with 401.
 *   BPM_BASE_BIN=/path/to/old/bpm bun bench/role-auth.bench.ts [seconds=5] [connections=64] [rounds=3]
 */
import { authHeaders, BPM_BIN, startBpm, TEST_SECRET, type BpmProcess } from "../tests/support/bpm.ts";
import { cpuSecondsTree as cpuSeconds, table, wrk } from "./lib.ts";

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 64);
const rounds = Number(process.argv[4] ?? 3);
const baseBin = process.env.BPM_BASE_BIN;
if (!baseBin) throw new Error("set BPM_BASE_BIN to a bpm built before the roles verified tokens");

// the old build reads the key from gateway.auth, this one from auth (and still from gateway.auth)
const keys = { auth: { secret: TEST_SECRET }, gateway: { auth: { secret: TEST_SECRET }, rate_limit: { requests: 100_000_000, window: "60s" }, access_log: false } };
const auth = await authHeaders(1);

async function pair(bin: string): Promise<{ svc: BpmProcess; gw: BpmProcess; url: string }> {
  const svc = await startBpm({ roles: ["task-service"], bin, config: keys });
  const res = await fetch(`${svc.url("task-service")}/api/tasks`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify({ title: "bench", user_id: 1 }) });
  const { id } = (await res.json()) as { id: number };
  const gw = await startBpm({ roles: ["gateway"], bin, config: { ...keys, discovery: { static: { "task-service": [{ address: "127.0.0.1", port: svc.ports["task-service"].http }] } } } });
  return { svc, gw, url: `${gw.url()}/api/tasks/${id}` };
}

const before = await pair(baseBin);
const after = await pair(BPM_BIN);
const targets = [
  { name: "before (gateway verifies)", p: before },
  { name: "after (gateway + task-service verify)", p: after },
];
const samples: Record<string, { rps: number; p99Ms: number; cpuUs: number }[]> = {};
for (const t of targets) await wrk(t.p.url, { seconds: 1, connections, headers: auth }); // warm-up
for (let round = 0; round < rounds; round++) {
  for (const t of targets) {
    const cpu0 = cpuSeconds(t.p.gw.proc.pid) + cpuSeconds(t.p.svc.proc.pid);
    const r = await wrk(t.p.url, { seconds, connections, headers: auth });
    if (r.errors > 0) throw new Error(`${t.name}: ${r.errors} errors or non-2xx answers`);
    const cpuUs = ((cpuSeconds(t.p.gw.proc.pid) + cpuSeconds(t.p.svc.proc.pid) - cpu0) * 1e6) / Math.max(1, r.requests);
    (samples[t.name] ??= []).push({ rps: r.rps, p99Ms: r.p99Ms, cpuUs });
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const m = Object.fromEntries(targets.map((t) => [t.name, { rps: median(samples[t.name]!.map((x) => x.rps)), p99Ms: median(samples[t.name]!.map((x) => x.p99Ms)), cpuUs: median(samples[t.name]!.map((x) => x.cpuUs)) }]));
console.log(`\nGET /api/tasks/:id through gateway + task-service, wrk -c${connections} -d${seconds}s, median of ${rounds} interleaved rounds, ${navigator.hardwareConcurrency} cores\n`);
console.log(table(targets.map((t) => ({ build: t.name, "req/s": Math.round(m[t.name]!.rps), "req/s per round": samples[t.name]!.map((x) => Math.round(x.rps)).join(" "), "p99 ms": m[t.name]!.p99Ms, "CPU µs/req (both)": Math.round(m[t.name]!.cpuUs) }))));
const [b, a] = [m[targets[0]!.name]!, m[targets[1]!.name]!];
console.log(`\nafter / before: ${(a.rps / b.rps).toFixed(3)}× throughput (target ≥ 0.95×), ${(a.cpuUs / b.cpuUs).toFixed(3)}× CPU per request`);

// a junk token: right shape, wrong signature, so every request pays for a verification
const [h, p] = (await authHeaders(1)).authorization!.split(".");
const junk = { authorization: `${h}.${p}.${Buffer.from("not-the-signature-not-the-signature").toString("base64url")}` };
const junkRows: Record<string, string | number>[] = [];
for (const [name, proc, url] of [
  ["gateway", after.gw, after.url],
  ["task-service direct", after.svc, after.url.replace(after.gw.url(), after.svc.url("task-service"))],
] as const) {
  await wrk(url, { seconds: 1, connections, headers: junk });
  const cpu0 = cpuSeconds(proc.proc.pid);
  const r = await wrk(url, { seconds, connections, headers: junk });
  const cpuUs = ((cpuSeconds(proc.proc.pid) - cpu0) * 1e6) / Math.max(1, r.requests);
  junkRows.push({ refused_by: name, "req/s": Math.round(r.rps), "refused (non-2xx)": r.errors, "CPU µs per rejected request": cpuUs.toFixed(1) });
}
console.log(`\njunk tokens (bad signature), wrk -c${connections} -d${seconds}s\n`);
console.log(table(junkRows));

for (const x of [before, after]) await Promise.all([x.gw.stop(), x.svc.stop()]);
process.exit(0);
