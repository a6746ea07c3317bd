/**
 * Same-run comparison of gateway builds and settings: every entry proxies GET /api/tasks/:id
 * to one task-service; rounds of wrk (-t2 -c64) are interleaved (order reversed every other
 * round) so the host's drift hits all entries alike. Prints per round and as medians: CPU
 * µs per request of the proxy process (user part apart), req/s, and each entry's CPU per
 * request as a ratio to the first entry's in the same round (median of rounds).
 *
 *   bun bench/gateway-ab.ts ENTRIES [rounds=6] [seconds=3]
 *
 * ENTRIES, comma-separated: `proto` (the bare raw-front prototype of
 * gateway-transport.bench.ts), `nginx` (Debian's, upstream keepalive), or a bpm binary
 * path (empty for ./bpm) with optional `:toggles` joined by `+`: noauth, norl (no rate
 * limit), nofb (no fallback cache), noal (no access log), nosticky, nopipe (upstream pipelining off), pipeN (depth N), nopurge
 * (MIMALLOC_PURGE_DELAY=-1), bigheap (JSC heap growth ×8/×4), noconc (no concurrent GC),
 * edenratio (BUN_JSC_minEdenToOldGenerationRatio=0.1: fewer full collections), nodecommit
 * (JSC keeps freed block pages after eden collections), heap64m / heap256m (JSC largeHeapSize:
 * bytes allocated between collections); tracing into a null collector in this process (reads
 * each batch, answers 200): trace (always_on), trace10 (parentbased ratio 0.1), traceoff
 * (always_off: the sampled-out plumbing).
 * e.g. `bun bench/gateway-ab.ts proto,/tmp/bpm-before,./bpm,nginx 8`.
 */
import { authHeaders, REPO, startBpm } from "../tests/support/bpm.ts";
import { cpuSecondsTree, startNginxProxy, startNullCollector, taskServiceWithTask, wrk } from "./lib.ts";
import { freePort } from "../tests/support/ports.ts";
import { readFileSync } from "node:fs";
if (!process.argv[2]) {
  console.error("usage: bun bench/gateway-ab.ts ENTRIES [rounds] [seconds]  (see the header of this file)");
  process.exit(2);
}
const entries = process.argv[2].split(",");
const pairs = Number(process.argv[3] ?? 4);
const secs = Number(process.argv[4] ?? 3);
const { svc, upstream, path } = await taskServiceWithTask();
// an OTLP endpoint that costs next to nothing, for the trace toggles
const nullCollector = startNullCollector();
const traced = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${nullCollector.port}` };
type T = { name: string; url: string; pid: number; stop: () => Promise<void> };
const ts: T[] = [];
for (const e of entries) {
  if (e === "proto" || e.startsWith("proto-pipe")) {
    const port = await freePort();
    const [kind, depth = "16", conns = "8"] = e === "proto" ? ["raw-front"] : ["raw-front-pipe", ...e.split(":").slice(1)];
    const p = Bun.spawn([process.execPath, `${REPO}/bench/gateway-transport.bench.ts`, `--serve=${kind}`, `--depth=${depth}`, `--conns=${conns}`, `--port=${port}`, `--to=127.0.0.1:${upstream.port}`], { stdout: "ignore", stderr: "inherit" });
    for (let i = 0; i < 100; i++) { try { await fetch(`http://127.0.0.1:${port}/health`); break; } catch { await Bun.sleep(50); } }
    ts.push({ name: e, url: `http://127.0.0.1:${port}${path}`, pid: p.pid, stop: async () => { p.kill(); await p.exited.then(() => undefined); } });
  } else if (e === "nginx") {
    const { port, proc: p } = await startNginxProxy(upstream);
    for (let i = 0; i < 100; i++) { try { await fetch(`http://127.0.0.1:${port}${path}`); break; } catch { await Bun.sleep(50); } }
    ts.push({ name: e, url: `http://127.0.0.1:${port}${path}`, pid: p.pid, stop: async () => { p.kill(); await p.exited.then(() => undefined); } });
  } else {
    const [bin, toggles = ""] = e.split(":");
    const t = toggles.split("+");
    const fb: any = {}, lb: any = {}, g: any = { rate_limit: { requests: 100_000_000, window: "60s" }, access_log: true };
    if (t.includes("nofb")) fb.shouldCache = false;
    if (t.includes("noal")) g.access_log = false;
    if (t.includes("norl")) g.rate_limit = { enabled: false };
    if (t.includes("noauth")) g.auth = { enabled: false };
    if (t.includes("nosticky")) lb.sticky_sessions = { enabled: false };
    if (t.includes("nopipe")) g.upstream_pipeline_depth = 1;
    for (const x of t) if (/^pipe\d+$/.test(x)) g.upstream_pipeline_depth = Number(x.slice(4));
    const env: Record<string, string> = {};
    if (t.includes("bigheap")) Object.assign(env, { BUN_JSC_smallHeapGrowthFactor: "8", BUN_JSC_largeHeapGrowthFactor: "4" });
    if (t.includes("noconc")) env.BUN_JSC_useConcurrentGC = "0";
    if (t.includes("nopurge")) env.MIMALLOC_PURGE_DELAY = "-1";
    if (t.includes("purge1s")) env.MIMALLOC_PURGE_DELAY = "1000";
    if (t.includes("purge100")) env.MIMALLOC_PURGE_DELAY = "100";
    if (t.includes("edenratio")) env.BUN_JSC_minEdenToOldGenerationRatio = "0.1";
    if (t.includes("nodecommit")) env.BUN_JSC_decommitUnusedMarkedBlockPagesAfterEdenCollections = "0";
    if (t.includes("heap64m")) env.BUN_JSC_largeHeapSize = String(64 << 20);
    if (t.includes("heap256m")) env.BUN_JSC_largeHeapSize = String(256 << 20);
    if (t.includes("trace")) Object.assign(env, traced, { OTEL_TRACES_SAMPLER: "always_on" });
    if (t.includes("trace10")) Object.assign(env, traced, { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" });
    if (t.includes("traceoff")) Object.assign(env, traced, { OTEL_TRACES_SAMPLER: "always_off" });
    const gw = await startBpm({ roles: ["gateway"], bin: bin || undefined, env, stdoutFile: "/dev/null", config: { discovery: { static: { "task-service": [upstream] } }, fallback: fb, load_balancer: lb, gateway: g } });
    ts.push({ name: e, url: gw.url("gateway") + path, pid: gw.proc.pid, stop: async () => void (await gw.stop()) });
  }
}
function flt(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[7]);
}
/** CPU seconds of the process's main thread (JS, the event loop, I/O); the rest is GC and JIT helpers. */
function mainCpu(pid: number): number {
  const f = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}
function ut(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) / 100;
}
const headers = await authHeaders(1);
const faults: number[][] = ts.map(() => []);
const upstreamCpu: number[][] = ts.map(() => []);
const p99: number[][] = ts.map(() => []);
const main: number[][] = ts.map(() => []);
const cpu: number[][] = ts.map(() => []), usr: number[][] = ts.map(() => []), rps: number[][] = ts.map(() => []);
for (const t of ts) await wrk(t.url, { seconds: 2, connections: 64, headers });
for (let p = 0; p < pairs; p++) {
  const order = p % 2 === 0 ? ts.map((_, i) => i) : ts.map((_, i) => ts.length - 1 - i);
  for (const i of order) {
    const t = ts[i]!;
    const pid = t.name === "nginx" ? Number((await Bun.$`pgrep -P ${t.pid}`.text()).trim().split("\n")[0]) : t.pid;
    const m0 = mainCpu(pid), u0 = ut(pid), c0 = cpuSecondsTree(t.pid), f0 = flt(pid), s0 = cpuSecondsTree(svc.proc.pid);
    const r = await wrk(t.url, { seconds: secs, connections: 64, headers });
    const c1 = cpuSecondsTree(t.pid), m1 = mainCpu(pid), u1 = ut(pid), f1 = flt(pid), s1 = cpuSecondsTree(svc.proc.pid);
    main[i]!.push(((m1 - m0) * 1e6) / r.requests);
    upstreamCpu[i]!.push(((s1 - s0) * 1e6) / r.requests);
    faults[i]!.push((f1 - f0) / r.requests);
    p99[i]!.push(r.p99Ms);
    cpu[i]!.push(((c1 - c0) * 1e6) / r.requests); usr[i]!.push(((u1 - u0) * 1e6) / r.requests); rps[i]!.push(r.rps);
  }
  console.log(`round ${p + 1}: ` + ts.map((t, i) => `${t.name} ${cpu[i]!.at(-1)!.toFixed(1)}/${usr[i]!.at(-1)!.toFixed(1)}u ${Math.round(rps[i]!.at(-1)!)} (${(cpu[i]!.at(-1)! / cpu[0]!.at(-1)!).toFixed(2)})`).join(" | "));
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log("medians (proxy CPU µs/req, its user part, its main thread's part, req/s, p99 ms, minor page faults/req, task-service CPU µs/req):");
for (let i = 0; i < ts.length; i++) console.log(`  ${ts[i]!.name.padEnd(40)} ${med(cpu[i]!).toFixed(1)}  ${med(usr[i]!).toFixed(1)}u  ${med(main[i]!).toFixed(1)}m  ${Math.round(med(rps[i]!))}  p99 ${med(p99[i]!).toFixed(2)}  ${med(faults[i]!).toFixed(2)} flt  upstream ${med(upstreamCpu[i]!).toFixed(1)}  CPU ratio to first (median of rounds) ${med(cpu[i]!.map((c, k) => c / cpu[0]![k]!)).toFixed(3)}`);
for (const t of ts) await t.stop();
await svc.stop();
nullCollector.stop(true);
