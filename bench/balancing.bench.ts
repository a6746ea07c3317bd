/**
 * Cost of one pick + release per algorithm, against a bare array index measured
 * in the same run. Run: bun bench/balancing.bench.ts [iterations]
 * Uses the real clock and Math.random. Clock reads dominate (clock_gettime is a
 * syscall here), hence the gateway-style column where the caller passes its own.
 */
import { LoadBalancer } from "../src/balancing/balancer.ts";
import { LOAD_BALANCER_DEFAULTS } from "../src/balancing/config.ts";
import { ALGORITHMS, type Algorithm } from "../src/balancing/strategy.ts";
import type { ServiceInstance } from "../src/discovery/types.ts";

const ITERATIONS = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = 5;

function makeInstances(n: number): ServiceInstance[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `task-service-host-${8082 + i}`,
    service: "task-service",
    address: "127.0.0.1",
    port: 8082 + i,
    weight: 100 + (i % 3) * 50,
    tags: [],
    meta: {},
  }));
}

let sink = 0;

/** Best of ROUNDS, in ns per operation (best-of resists GC and scheduler noise). */
function measure(op: () => void, iterations = ITERATIONS): number {
  for (let i = 0; i < 50_000; i++) op(); // warm up the JIT
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const start = Bun.nanoseconds();
    for (let i = 0; i < iterations; i++) op();
    best = Math.min(best, (Bun.nanoseconds() - start) / iterations);
  }
  return best;
}

function baseline(n: number): number {
  const arr = makeInstances(n);
  let i = 0;
  return measure(() => {
    const inst = arr[i++ % n]!;
    sink += inst.port;
  });
}

function pickRelease(algorithm: Algorithm, n: number, variant: "plain" | "sticky" | "gateway"): number {
  const lb = new LoadBalancer("task-service", { ...LOAD_BALANCER_DEFAULTS, algorithm });
  lb.setInstances(makeInstances(n));
  const first = lb.pick();
  if (!first.ok) throw new Error("no endpoint");
  first.release();
  const stickyOpts = { stickyId: first.stickyId };
  const report = { outcome: "success" as const, latencyMs: 3 };
  const requestStartMs = performance.timeOrigin + performance.now();
  return measure(() => {
    const lease = variant === "sticky" ? lb.pick(stickyOpts) : variant === "gateway" ? lb.pick({ nowMs: requestStartMs }) : lb.pick();
    if (!lease.ok) throw new Error(lease.reason);
    sink += lease.instance.port;
    if (variant === "gateway") lease.release(report);
    else lease.release();
  });
}

// Make measure()'s call site megamorphic up front so the baseline pays the same indirect call as the rest.
for (const f of [() => (sink += 1), () => (sink += 2), () => (sink ^= 3), () => (sink -= 4), () => (sink |= 5)]) measure(f, 10_000);

const rows: string[][] = [["algorithm", "instances", "ns/op", "× bare", "ns/op gateway-style", "× bare"]];
for (const n of [3, 30]) {
  const base = baseline(n);
  rows.push(["bare array index", String(n), base.toFixed(1), "1.0", "", ""]);
  for (const algorithm of ALGORITHMS) {
    const plain = pickRelease(algorithm, n, "plain");
    const gateway = pickRelease(algorithm, n, "gateway");
    rows.push([algorithm, String(n), plain.toFixed(1), (plain / base).toFixed(1), gateway.toFixed(1), (gateway / base).toFixed(1)]);
  }
  const sticky = pickRelease("round_robin", n, "sticky");
  rows.push(["sticky hit (pick({stickyId}))", String(n), sticky.toFixed(1), (sticky / base).toFixed(1), "", ""]);
}

const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
console.log(`pick + release, best of ${ROUNDS} × ${ITERATIONS.toLocaleString()} (Bun ${Bun.version})`);
console.log("ns/op: pick() + release(), the balancer reads the clock twice (~40-50 ns each on this VM)");
console.log("gateway-style: pick({ nowMs }) + release({ outcome, latencyMs }) with the caller's own readings: no clock read");
for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
if (sink === 42) console.log(""); // keep results observable so nothing is optimised away
