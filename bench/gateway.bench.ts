/**
 * GET /api/tasks/:id through bpm's full gateway (auth + rate limit + balancer + breaker + retry
 * + fallback cache + sticky + access log) side by side with: task-service directly, nginx with
 * upstream keepalive, and the seed's design (Node + Express + http-proxy-middleware). One run,
 * same upstream, ratios printed. Each target is measured `rounds` times, interleaved, and the
 * median is reported: this VM's capacity drifts by tens of percent within a minute.
 *   bun bench/gateway.bench.ts [seconds=5] [connections=64] [rounds=3]
 * BPM_BASE=/path/to/other/bpm adds that build's gateway as a row (before/after in one run).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authHeaders, REPO, startBpm } from "../tests/support/bpm.ts";
import { freePort } from "../tests/support/bpm.ts";
import { cpuSecondsTree as cpuSeconds, startNginxProxy, table, waitHttp, wrk } from "./lib.ts";

const seconds = Number(process.argv[2] ?? 5);
const connections = Number(process.argv[3] ?? 64);
const rounds = Number(process.argv[4] ?? 3);

const svc = await startBpm({ roles: ["task-service"] });
const svcUrl = svc.url("task-service");
// every role verifies the caller's token: every target gets the same Authorization (proxies pass it on)
const auth = await authHeaders(1);
const created = (await (await fetch(`${svcUrl}/api/tasks`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify({ title: "bench", user_id: 1 }) })).json()) as { id: number };
const path = `/api/tasks/${created.id}`;
const upstream = { address: "127.0.0.1", port: svc.ports["task-service"].http };

const logDir = mkdtempSync(join(tmpdir(), "bpm-gw-logs-"));
// the default gateway: raw HTTP/1.1 front + pooled client, responses relayed as read (docs/http-transport.md)
const gateway = await startBpm({
  roles: ["gateway"],
  stdoutFile: join(logDir, "gateway.log"),
  config: {
    discovery: { static: { "task-service": [upstream] } },
    gateway: { rate_limit: { requests: 100_000_000, window: "60s" }, access_log: true },
  },
});
// another build's gateway, same config, for a before/after in the same run
const base = process.env.BPM_BASE;
const gatewayBase = base
  ? await startBpm({
      bin: base,
      roles: ["gateway"],
      stdoutFile: join(logDir, "gateway-base.log"),
      config: {
        discovery: { static: { "task-service": [upstream] } },
        gateway: { rate_limit: { requests: 100_000_000, window: "60s" }, access_log: true },
      },
    })
  : undefined;

// nginx as a reverse proxy with upstream keepalive (Debian's, run unprivileged in a temp prefix)
const { port: nginxPort, proc: nginx } = await startNginxProxy(upstream);
await waitHttp(`http://127.0.0.1:${nginxPort}/health`);

const expressPort = await freePort();
const express = Bun.spawn(["node", join(REPO, "bench/peers/express-gateway.cjs"), String(expressPort), svcUrl], { cwd: REPO, stdout: "ignore", stderr: "inherit" });
await waitHttp(`http://127.0.0.1:${expressPort}/health`);

const targets: { name: string; url: string; pid: number; headers?: Record<string, string> }[] = [
  { name: "task-service direct", url: `${svcUrl}${path}`, pid: svc.proc.pid, headers: auth },
  { name: "bpm gateway (full)", url: `${gateway.url()}${path}`, pid: gateway.proc.pid, headers: auth },
  ...(gatewayBase ? [{ name: "bpm gateway (BPM_BASE build)", url: `${gatewayBase.url()}${path}`, pid: gatewayBase.proc.pid, headers: auth }] : []),
  { name: "nginx keepalive", url: `http://127.0.0.1:${nginxPort}${path}`, pid: nginx.pid, headers: auth },
  { name: "express + h-p-m (seed)", url: `http://127.0.0.1:${expressPort}${path}`, pid: express.pid, headers: auth },
];

const samples: Record<string, { rps: number; p50Ms: number; p99Ms: number; errors: number; cpuUsPerReq: number }[]> = {};
for (let round = 0; round < rounds; round++) {
  for (const t of targets) {
    await wrk(t.url, { seconds: 1, connections, headers: t.headers }); // warm-up
    const cpu0 = cpuSeconds(t.pid);
    const r = await wrk(t.url, { seconds, connections, headers: t.headers });
    const cpuUs = ((cpuSeconds(t.pid) - cpu0) * 1e6) / Math.max(1, r.requests);
    (samples[t.name] ??= []).push({ rps: r.rps, p50Ms: r.p50Ms, p99Ms: r.p99Ms, errors: r.errors, cpuUsPerReq: cpuUs });
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Record<string, { rps: number; p99Ms: number; cpuUsPerReq: number }> = {};
const rows: Record<string, string | number>[] = [];
for (const t of targets) {
  const ss = samples[t.name]!;
  const m = { rps: median(ss.map((x) => x.rps)), p50Ms: median(ss.map((x) => x.p50Ms)), p99Ms: median(ss.map((x) => x.p99Ms)), cpuUsPerReq: median(ss.map((x) => x.cpuUsPerReq)) };
  results[t.name] = m;
  rows.push({
    target: t.name,
    "req/s": Math.round(m.rps),
    "req/s per round": ss.map((x) => Math.round(x.rps)).join(" "),
    "p50 ms": m.p50Ms,
    "p99 ms": m.p99Ms,
    errors: ss.reduce((n, x) => n + x.errors, 0),
    "proxy CPU µs/req": t.name.includes("direct") ? "-" : Math.round(m.cpuUsPerReq),
  });
}
const direct = results["task-service direct"]!;
const ours = results["bpm gateway (full)"]!;
const baseGw = results["bpm gateway (BPM_BASE build)"];
const ng = results["nginx keepalive"]!;
const ex = results["express + h-p-m (seed)"]!;
console.log(`\nGET ${path}, wrk -t2 -c${connections} -d${seconds}s, median of ${rounds} interleaved rounds, ${navigator.hardwareConcurrency} cores\n`);
console.log(table(rows));
console.log(`
ratios (medians):
  bpm gateway / direct        ${(ours.rps / direct.rps).toFixed(2)}×   (added p99 ${(ours.p99Ms - direct.p99Ms).toFixed(2)} ms)
  nginx / direct              ${(ng.rps / direct.rps).toFixed(2)}×   (added p99 ${(ng.p99Ms - direct.p99Ms).toFixed(2)} ms)
  bpm gateway / nginx         ${(ours.rps / ng.rps).toFixed(2)}×   (target ≥ 1.0×; p99 vs nginx ${(ours.p99Ms - ng.p99Ms).toFixed(2)} ms, target ≤ 1 ms)
  bpm gateway / express seed  ${(ours.rps / ex.rps).toFixed(2)}×   (target ≥ 8×)
  CPU per request             bpm ${ours.cpuUsPerReq.toFixed(1)} µs, nginx ${ng.cpuUsPerReq.toFixed(1)} µs (${(ours.cpuUsPerReq / ng.cpuUsPerReq).toFixed(2)}×), express ${ex.cpuUsPerReq.toFixed(1)} µs${
    baseGw ? `\n  this build / BPM_BASE build  ${(ours.rps / baseGw.rps).toFixed(2)}× throughput, ${(ours.cpuUsPerReq / baseGw.cpuUsPerReq).toFixed(2)}× CPU per request; BPM_BASE / nginx ${(baseGw.rps / ng.rps).toFixed(2)}×, ${baseGw.cpuUsPerReq.toFixed(1)} µs CPU per request` : ""
  }`);

nginx.kill();
express.kill();
await gateway.stop();
await gatewayBase?.stop();
await svc.stop();
process.exit(0);
