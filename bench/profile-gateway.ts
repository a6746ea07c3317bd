/**
 * Where a proxied request's CPU goes, by JS function: the gateway (from source) under
 * wrk, sampled by `perf record -g`, each sample charged to the innermost JS function on
 * its stack (the native and kernel work it caused included), names from JSC's JIT dump.
 *
 *   bun bench/profile-gateway.ts [seconds=5] [top=40] [NAME=VALUE …]
 *
 * NAME=VALUE pairs go to the gateway's environment, e.g. OTEL_TRACES_SAMPLER=always_off
 * with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9 to profile tracing's sampled-out path.
 *
 * Needs perf (linux-perf) and wrk (scripts/tools.sh installs wrk). Prints, per function:
 * its share of all samples and how that splits into kernel / Bun native / JIT code.
 * "(no JS frame)" is the event loop, socket I/O flushed outside JS, microtask jobs and GC.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authHeaders } from "../tests/support/bpm.ts";
import { cpuSecondsTree, gatewayFromSource, taskServiceWithTask, wrk } from "./lib.ts";

const seconds = Number(process.argv[2] ?? 5);
const top = Number(process.argv[3] ?? 40);
const extraEnv = Object.fromEntries(process.argv.slice(4).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
const work = mkdtempSync(join(tmpdir(), "bpm-profile-"));
const jitDir = join(work, "jit");
mkdirSync(jitDir); // Bun aborts at start when the JIT dump directory is missing
const { svc, upstream, path } = await taskServiceWithTask();
const gw = await gatewayFromSource({ work, upstream, env: { ...extraEnv, BUN_JSC_useJITDump: "1", BUN_JSC_jitDumpDirectory: jitDir } });
const url = `${gw.url("gateway")}${path}`;
const headers = await authHeaders(1);
const pid = gw.proc.pid;
try {
  await wrk(url, { seconds: 3, connections: 64, headers }); // warm up: let the JIT settle
  const data = join(work, "perf.data");
  const perf = Bun.spawn(["perf", "record", "-k", "1", "-g", "-F", "4000", "-p", String(pid), "-o", data, "--", "sleep", String(seconds)], { stdout: "ignore", stderr: "ignore" });
  const c0 = cpuSecondsTree(pid);
  const r = await wrk(url, { seconds, connections: 64, headers });
  const c1 = cpuSecondsTree(pid);
  await perf.exited;
  console.log(`${Math.round(r.rps)} req/s, ${(((c1 - c0) * 1e6) / r.requests).toFixed(1)} µs CPU per request (gateway process)\n`);

  writeFileSync(`/tmp/perf-${pid}.map`, jitMap(join(jitDir, readdirSync(jitDir).find((f) => f.endsWith(".dump"))!)));
  const script = Bun.spawnSync(["perf", "script", "-i", data, "-F", "ip,sym,dso"], { stdout: "pipe", stderr: "ignore" }).stdout.toString();
  report(script, top);
} finally {
  await gw.stop();
  await svc.stop();
}

/** perf's jitdump format → the `/tmp/perf-PID.map` lines perf reads for JIT code ("start size name"). */
function jitMap(file: string): string {
  const b = readFileSync(file);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const lines: string[] = [];
  for (let pos = dv.getUint32(8, true); pos + 16 <= b.length; ) {
    const id = dv.getUint32(pos, true);
    const size = dv.getUint32(pos + 4, true);
    if (size === 0) break;
    if (id === 0) {
      // JIT_CODE_LOAD: header (id, size, timestamp), then pid, tid, vma, code_addr, code_size, code_index, name
      const p = pos + 16;
      const addr = dv.getBigUint64(p + 16, true);
      const codeSize = dv.getBigUint64(p + 24, true);
      let end = p + 40;
      while (b[end] !== 0) end++;
      lines.push(`${addr.toString(16)} ${codeSize.toString(16)} ${b.toString("utf8", p + 40, end).replace(/\s+/g, "_")}`);
    }
    pos += size;
  }
  return lines.join("\n") + "\n";
}

/** Charges every sample to the innermost JS function on its stack. */
function report(script: string, rows: number): void {
  type Split = { all: number; kernel: number; native: number; jit: number };
  const byFunction = new Map<string, Split>();
  let total = 0;
  for (const sample of script.split("\n\n")) {
    const frames = sample.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    if (frames.length === 0) continue;
    total++;
    const leaf = frames[0]!;
    const kind = leaf.includes("[kernel.kallsyms]") ? "kernel" : leaf.includes("JSC-") ? "jit" : "native";
    const js = frames.find((f) => f.includes("JSC-") && !f.includes("Thunk"));
    const name = js === undefined ? "(no JS frame)" : js.slice(js.indexOf(" ") + 1).replace(/ \([^)]*\)$/, "");
    const split = byFunction.get(name) ?? { all: 0, kernel: 0, native: 0, jit: 0 };
    split.all++;
    split[kind]++;
    byFunction.set(name, split);
  }
  const pct = (n: number) => ((100 * n) / total).toFixed(2).padStart(6);
  console.log(`${total} samples       all  kernel  native     jit  function`);
  for (const [name, s] of [...byFunction].sort((a, b) => b[1].all - a[1].all).slice(0, rows)) {
    console.log(`               ${pct(s.all)}  ${pct(s.kernel)}  ${pct(s.native)}  ${pct(s.jit)}  ${name.slice(0, 100)}`);
  }
}
