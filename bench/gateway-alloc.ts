/**
 * What the gateway's JS heap allocates per proxied request, and how often it collects: a
 * measure the host's CPU drift does not move (unlike µs per request), for allocation work.
 * Runs the gateway from source (this checkout, or another given as the first argument) with
 * JSC's GC log on, warms up under wrk, then counts over a second wrk run: GC cycles (eden and
 * full) and the bytes JSC says each finished cycle allocated, per request. Only cycles started by
 * the allocation budget log their bytes, so the figure moves ±15% between runs: compare builds
 * over several runs, and only for differences larger than that.
 *
 *   bun bench/gateway-alloc.ts [checkout=this repo] [seconds=6]
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authHeaders, REPO, startBpm } from "../tests/support/bpm.ts";
import { wrk } from "./lib.ts";

const checkout = process.argv[2] ?? REPO;
const seconds = Number(process.argv[3] ?? 6);
const work = mkdtempSync(join(tmpdir(), "bpm-alloc-"));
const gcLog = join(work, "gc.log");
const runner = join(work, "bpm-src.sh");
writeFileSync(runner, `#!/bin/sh\nexec "${process.execPath}" "${checkout}/src/main.ts" "$@" 2>"${gcLog}"\n`, { mode: 0o755 });

const svc = await startBpm({ roles: ["task-service"] });
const created = (await (await fetch(`${svc.url("task-service")}/api/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ title: "bench", user_id: 1 }) })).json()) as { id: number };
const gw = await startBpm({
  roles: ["gateway"],
  bin: runner,
  stdoutFile: join(work, "access.log"),
  env: { BUN_JSC_logGC: "1", ...(process.env.GW_JSC ? Object.fromEntries(process.env.GW_JSC.split(",").map((kv) => kv.split("="))) : {}) },
  config: { discovery: { static: { "task-service": [{ address: "127.0.0.1", port: svc.ports["task-service"].http }] } }, gateway: { rate_limit: { requests: 100_000_000, window: "60s" }, access_log: true } },
});
try {
  const url = `${gw.url("gateway")}/api/tasks/${created.id}`;
  const headers = await authHeaders(1);
  await wrk(url, { seconds: 3, connections: 64, headers }); // warm up: JIT and heap settle
  const read = () => {
    const log = readFileSync(gcLog, "utf8");
    return {
      bytes: [...log.matchAll(/bytes allocated this cycle: (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0),
      eden: log.split("=> EdenCollection").length - 1,
      full: log.split("=> FullCollection").length - 1,
    };
  };
  const a = read();
  const r = await wrk(url, { seconds, connections: 64, headers });
  const b = read();
  console.log(`${checkout}: ${r.requests} requests, ${b.eden - a.eden} eden + ${b.full - a.full} full collections, ${((b.bytes - a.bytes) / r.requests).toFixed(0)} bytes allocated per request (cycles finished in the run)`);
} finally {
  await gw.stop();
  await svc.stop();
}
