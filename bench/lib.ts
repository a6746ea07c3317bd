/** Shared helpers for benchmarks: wrk runs, CPU accounting, side-by-side tables. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authHeaders, REPO, startBpm, type BpmProcess } from "../tests/support/bpm.ts";
import { freePort } from "../tests/support/ports.ts";
import { toolPath } from "../tests/support/tools.ts";

export interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

function ms(text: string | undefined): number {
  if (!text) return NaN;
  const m = /([\d.]+)(us|ms|s)/.exec(text);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "s" ? n * 1000 : n;
}

/** wrk -t2 -cN -dD --latency against `url`; parses throughput and percentiles. */
export async function wrk(url: string, opts: { connections?: number; seconds?: number; threads?: number; headers?: Record<string, string> } = {}): Promise<WrkResult> {
  const args = [toolPath("wrk"), `-t${opts.threads ?? 2}`, `-c${opts.connections ?? 64}`, `-d${opts.seconds ?? 5}s`, "--latency"];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push("-H", `${k}: ${v}`);
  args.push(url);
  const proc = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p50 = ms(/\s50%\s+(\S+)/.exec(out)?.[1]);
  const p99 = ms(/\s99%\s+(\S+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50Ms: p50, p99Ms: p99, requests, errors };
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds of a process and its children (nginx's workers do the work, not its master). */
export function cpuSecondsTree(pid: number): number {
  let total = cpuSeconds(pid);
  const kids = Bun.spawnSync(["pgrep", "-P", String(pid)]).stdout.toString().trim().split("\n").filter(Boolean);
  for (const k of kids) total += cpuSecondsTree(Number(k));
  return total;
}

/** Resident memory in MB; `RssAnon` is the process's private part (`RssFile` is the mapped binary, shared by every process running it). */
export function rssMb(pid: number, field: "VmRSS" | "RssAnon" | "RssFile" = "VmRSS"): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(`${field}:`))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

export function table(rows: Record<string, string | number>[]): string {
  const cols = Object.keys(rows[0] ?? {});
  const fmt = (v: string | number) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  return [line(cols), line(widths.map((w) => "-".repeat(w))), ...rows.map((r) => line(cols.map((c) => fmt(r[c] ?? ""))))].join("\n");
}

export async function waitHttp(url: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch {
      // not up yet
    }
    await Bun.sleep(20);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/**
 * Debian's nginx as a reverse proxy to `upstream` (1 worker, upstream keepalive 64, an access
 * log like ours, a correlation id set per request), unprivileged in a temp prefix. The caller
 * waits for it to answer and kills `proc` when done (the worker is its child).
 */
export async function startNginxProxy(upstream: { address: string; port: number }): Promise<{ port: number; proc: ReturnType<typeof Bun.spawn> }> {
  const port = await freePort();
  const prefix = mkdtempSync(join(tmpdir(), "bpm-nginx-"));
  writeFileSync(join(prefix, "nginx.conf"), `worker_processes 1; daemon off; pid ${prefix}/nginx.pid; error_log ${prefix}/error.log;
events { worker_connections 4096; }
http { access_log ${prefix}/access.log; client_body_temp_path ${prefix}; proxy_temp_path ${prefix}; fastcgi_temp_path ${prefix}; uwsgi_temp_path ${prefix}; scgi_temp_path ${prefix};
  upstream tasks { server ${upstream.address}:${upstream.port}; keepalive 64; }
  server { listen 127.0.0.1:${port};
    location / { proxy_pass http://tasks; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header X-Correlation-ID $request_id; } } }`);
  const proc = Bun.spawn([toolPath("nginx"), "-p", prefix, "-c", join(prefix, "nginx.conf")], { stdout: "ignore", stderr: "inherit" });
  return { port, proc };
}

/** A task-service with one task in it: the upstream gateway benchmarks proxy to, and the path they GET. */
export async function taskServiceWithTask(): Promise<{ svc: BpmProcess; upstream: { address: string; port: number }; path: string }> {
  const svc = await startBpm({ roles: ["task-service"] });
  // task-service checks credentials itself: the task belongs to user 1, whose token the benchmarks send
  const res = await fetch(`${svc.url("task-service")}/api/tasks`, { method: "POST", headers: { "content-type": "application/json", ...(await authHeaders(1)) }, body: JSON.stringify({ title: "bench", user_id: 1 }) });
  const created = (await res.json()) as { id: number };
  return { svc, upstream: { address: "127.0.0.1", port: svc.ports["task-service"].http }, path: `/api/tasks/${created.id}` };
}

/**
 * The gateway run from a checkout's source (so perf's JIT map and JSC's logs see it) in front
 * of `upstream`, with the benchmarks' settings (rate limit far above any run, access log on to
 * `work/access.log`); its stderr goes to `stderrFile` when given. `work` holds the launcher.
 */
export function gatewayFromSource(opts: { work: string; upstream: { address: string; port: number }; env: Record<string, string>; checkout?: string; stderrFile?: string; gateway?: Record<string, unknown>; config?: Record<string, unknown> }): Promise<BpmProcess> {
  const runner = join(opts.work, "bpm-src.sh");
  const redirect = opts.stderrFile === undefined ? "" : ` 2>"${opts.stderrFile}"`;
  writeFileSync(runner, `#!/bin/sh\nexec "${process.execPath}" "${opts.checkout ?? REPO}/src/main.ts" "$@"${redirect}\n`, { mode: 0o755 });
  return startBpm({
    roles: ["gateway"],
    bin: runner,
    stdoutFile: join(opts.work, "access.log"),
    env: opts.env,
    config: { ...opts.config, discovery: { static: { "task-service": [opts.upstream] } }, gateway: { rate_limit: { requests: 100_000_000, window: "60s" }, access_log: true, ...opts.gateway } },
  });
}

/** An OTLP/HTTP endpoint that costs next to nothing: reads each batch, answers with an empty ExportTraceServiceResponse. */
export function startNullCollector(): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      await req.arrayBuffer();
      return new Response(new Uint8Array(0), { headers: { "content-type": "application/x-protobuf" } });
    },
  });
}
