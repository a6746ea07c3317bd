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
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authHeaders, REPO } from "../tests/support/bpm.ts";
import { gatewayFromSource, taskServiceWithTask, wrk } from "./lib.ts";

const checkout = process.argv[2] || REPO;
const seconds = Number(process.argv[3] ?? 6);
const work = mkdtempSync(join(tmpdir(), "bpm-alloc-"));
const gcLog = join(work, "gc.log");
const { svc, upstream, path } = await taskServiceWithTask();
const extra = process.env.GW_JSC ? Object.fromEntries(process.env.GW_JSC.split(",").map((kv) => kv.split("="))) : {};
const gw = await gatewayFromSource({ work, upstream, checkout, stderrFile: gcLog, env: { BUN_JSC_logGC: "1", ...extra } });
try {
  const url = `${gw.url("gateway")}${path}`;
  const headers = await authHeaders(1);
  await wrk(url, { seconds: 3, connections: 64, headers }); // warm up: JIT and heap settle
  const read = () => {
    const log = readFileSync(gcLog, "utf8");
    return {
      bytes: [...log.matchAll(/bytes allocated this cycle: (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0),
      eden: log.split("=> EdenCollection").length - 1,
      full: log.split("=> FullCollection").length - 1,
      cycleMs: [...log.matchAll(/cycle ([\d.]+)ms END/g)].reduce((a, m) => a + Number(m[1]), 0),
    };
  };
  const a = read();
  const r = await wrk(url, { seconds, connections: 64, headers });
  const b = read();
  console.log(`${checkout}: ${r.requests} requests, ${b.eden - a.eden} eden + ${b.full - a.full} full collections, ${((b.bytes - a.bytes) / r.requests).toFixed(0)} bytes allocated per request (cycles finished in the run), ${(((b.cycleMs - a.cycleMs) * 1000) / r.requests).toFixed(2)} µs of collection cycles (wall) per request`);
} finally {
  await gw.stop();
  await svc.stop();
}
