/**
 * What the gateway's JS heap allocates per proxied request, and how often it collects: a
 * measure the host's CPU drift does not move (unlike µs per request), for allocation work.
 * Runs the gateway from source (this checkout, or another given as the first argument) with
 * JSC's GC log on, warms up under wrk, then counts over a second wrk run: GC cycles (eden and
 * full) and the bytes JSC says each finished cycle allocated, per request. Only cycles started by
 * the allocation budget log their bytes, so the figure moves ±15% between runs: compare builds
 * over several runs, and only for differences larger than that. Also: the main thread's GC
 * pauses (JSC stops the mutator in slices while it marks; their sum, as a share of the run) and
 * what eden (young) and full collections marked (median kB). An eden collection that marks
 * about as much as a full one means young garbage is being kept alive — e.g. by a Set or Map
 * that takes and drops an object per request (docs/http-transport.md "Garbage").
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
// GW_CONFIG: JSON merged into the gateway's config (top level; its `gateway` key into the gateway section), e.g. '{"gateway":{"access_log":false}}'
const { gateway: gwSection, ...config } = process.env.GW_CONFIG ? JSON.parse(process.env.GW_CONFIG) : ({} as Record<string, any>);
const gw = await gatewayFromSource({ work, upstream, checkout, stderrFile: gcLog, env: { BUN_JSC_logGC: "1", ...extra }, gateway: gwSection, config });
try {
  const url = `${gw.url("gateway")}${path}`;
  const headers = await authHeaders(1);
  await wrk(url, { seconds: 3, connections: 64, headers }); // warm up: JIT and heap settle
  const read = () => {
    const log = readFileSync(gcLog, "utf8");
    return {
      text: log,
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
  // the run's cycles: each "START" line opens one; its " p=" figures are the mutator's pauses, its last "v=" what it marked
  let pausedMs = 0;
  const marked: Record<"eden" | "full", number[]> = { eden: [], full: [] };
  for (const cycle of b.text.slice(a.text.length).split("START ").slice(1)) {
    for (const m of cycle.matchAll(/ p=([\d.]+)ms/g)) pausedMs += Number(m[1]);
    const v = [...cycle.matchAll(/v=(\d+)kb/g)].at(-1);
    if (v !== undefined && cycle.includes("END]")) marked[cycle.slice(0, 200).includes("FullCollection") ? "full" : "eden"].push(Number(v[1]));
  }
  const median = (xs: number[]) => (xs.length === 0 ? "-" : String(xs.sort((x, y) => x - y)[xs.length >> 1]));
  console.log(`  GC pauses ${pausedMs.toFixed(0)} ms (${((pausedMs / (seconds * 1000)) * 100).toFixed(1)}% of the run); marked per collection (median): eden ${median(marked.eden)} kB, full ${median(marked.full)} kB`);
} finally {
  await gw.stop();
  await svc.stop();
}
