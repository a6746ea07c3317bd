// Overhead per call of our resilience policies vs a bare call, opossum 10 and cockatiel 4, in one run.
// Run: bun bench/resilience.bench.ts   (ratios matter; absolute ns vary with the machine)
import {
  circuitBreaker as cockatielBreaker, CountBreaker, ExponentialBackoff, handleAll, retry as cockatielRetry, timeout as cockatielTimeout,
  TimeoutStrategy, wrap as cockatielWrap,
} from "cockatiel";
import Opossum from "opossum";
import { CircuitBreaker } from "../src/resilience/circuit-breaker.ts";
import { Pipeline } from "../src/resilience/pipeline.ts";
import { RateLimiter } from "../src/resilience/rate-limiter.ts";
import { Retry } from "../src/resilience/retry.ts";
import { Bulkhead } from "../src/resilience/bulkhead.ts";
import { ClusterFixedWindow } from "../src/resilience/cluster-window.ts";
import { admitLocal, type DownstreamPolicies, releaseLocal } from "../src/transport/downstreams.ts";
import { TimeLimiter } from "../src/resilience/time-limiter.ts";
import { Metrics } from "../src/telemetry/metrics.ts";

const CALLS = Number(process.env.BENCH_CALLS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

const value = { ok: true };
const call = () => Promise.resolve(value);

// Same breaker semantics everywhere: 50% of the last 100 calls, at least 10 calls.
const ours = new CircuitBreaker({ name: "bench", slidingWindowSize: 100, minimumNumberOfCalls: 10, failureRateThreshold: 50 });
const oursHot = new CircuitBreaker({ name: "hot", slidingWindowSize: 100, minimumNumberOfCalls: 10, failureRateThreshold: 50 });
const oursPipeline = Pipeline.create({
  retry: new Retry({ maxAttempts: 3 }),
  circuitBreaker: new CircuitBreaker({ name: "pipe", slidingWindowSize: 100, minimumNumberOfCalls: 10, failureRateThreshold: 50 }),
  timeLimiter: new TimeLimiter({ timeoutDuration: 5_000 }),
});
const cockatiel = cockatielBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new CountBreaker({ threshold: 0.5, size: 100, minimumNumberOfCalls: 10 }) });
const cockatielStack = cockatielWrap(
  cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() }),
  cockatielBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new CountBreaker({ threshold: 0.5, size: 100, minimumNumberOfCalls: 10 }) }),
  cockatielTimeout(5_000, TimeoutStrategy.Aggressive),
);
const opossumDefault = new Opossum(call, { errorThresholdPercentage: 50, volumeThreshold: 10 });
const opossumLean = new Opossum(call, { errorThresholdPercentage: 50, volumeThreshold: 10, timeout: false, rollingPercentilesEnabled: false });
const limiters = {
  fixed_window: new RateLimiter({ limitForPeriod: 1e9, limitRefreshPeriod: 60_000, algorithm: "fixed_window" }),
  sliding_window: new RateLimiter({ limitForPeriod: 1e9, limitRefreshPeriod: 60_000, algorithm: "sliding_window" }),
  gcra: new RateLimiter({ limitForPeriod: 1e9, limitRefreshPeriod: 60_000, algorithm: "gcra" }),
  // shared across replicas: the per-request part (the batched sync to PostgreSQL runs on a timer, not per request)
  fixed_window_shared: new ClusterFixedWindow({ name: "bench", limit: 1e9, windowMs: 60_000, store: { sync: async () => ({ totals: [], cursor: "" }) } }),
};
// The gateway's per-request policies with the default config: its admission limit, then per
// attempt the breaker's inline path (no bulkhead or client-side limiter configured).
const gwLimiter = new RateLimiter({ limitForPeriod: 1e9, limitRefreshPeriod: 60_000, maxKeys: 1_000_000 });
const gwBreaker = new CircuitBreaker({ name: "gw", slidingWindowSize: 100, minimumNumberOfCalls: 10, failureRateThreshold: 50 });
const noLocal: DownstreamPolicies = { name: "gw", metrics: new Metrics(), breaker: gwBreaker, retry: new Retry({ maxAttempts: 3 }), budget: undefined as never, timeoutMs: 5_000, rateLimiter: undefined, bulkhead: undefined };
const withLocal: DownstreamPolicies = {
  ...noLocal,
  rateLimiter: new RateLimiter({ limitForPeriod: 1e9, limitRefreshPeriod: 60_000 }),
  bulkhead: new Bulkhead({ maxConcurrentCalls: 1_000 }),
};
async function gatewayPolicies(n: number, p: DownstreamPolicies): Promise<void> {
  for (let i = 0; i < n; i++) {
    if (!gwLimiter.check("u:42").allowed) throw new Error("limited");
    const breaker = p.breaker;
    if (!breaker.tryAcquirePermission()) throw breaker.notPermittedError();
    const epoch = breaker.epoch;
    const refusal = p.rateLimiter === undefined && p.bulkhead === undefined ? undefined : admitLocal(p);
    if (refusal !== undefined) throw refusal;
    await call();
    releaseLocal(p);
    breaker.onResult(0, false, epoch);
  }
}

/** A variant runs `n` calls; most await one wrapped call per iteration. */
interface Variant { name: string; baseline: string; loop: (n: number) => Promise<void> }
const awaiting = (run: () => Promise<unknown> | unknown) => async (n: number) => {
  for (let i = 0; i < n; i++) await run();
};

const variants: Variant[] = [
  { name: "bare: await fn()", baseline: "bare: await fn()", loop: awaiting(() => call()) },
  { name: "ours: breaker.execute(fn)", baseline: "bare: await fn()", loop: awaiting(() => ours.execute(call)) },
  { name: "cockatiel 4: breaker (CountBreaker)", baseline: "bare: await fn()", loop: awaiting(() => cockatiel.execute(call)) },
  { name: "opossum 10: fire() defaults", baseline: "bare: await fn()", loop: awaiting(() => opossumDefault.fire()) },
  { name: "opossum 10: fire() no timeout/pctl", baseline: "bare: await fn()", loop: awaiting(() => opossumLean.fire()) },
  {
    // How the gateway uses the breaker: inline in its own async handler, no wrapper promise.
    name: "inline bare: v = await fn()", baseline: "inline bare: v = await fn()",
    loop: async (n) => {
      for (let i = 0; i < n; i++) await call();
    },
  },
  {
    name: "inline ours: tryAcquire + onResult", baseline: "inline bare: v = await fn()",
    loop: async (n) => {
      for (let i = 0; i < n; i++) {
        if (!oursHot.tryAcquirePermission()) throw oursHot.notPermittedError();
        await call();
        oursHot.onResult(0, false);
      }
    },
  },
  { name: "ours: Pipeline retry+breaker+timeout", baseline: "bare: await fn()", loop: awaiting(() => oursPipeline.execute(call)) },
  { name: "gateway policies, default config", baseline: "inline bare: v = await fn()", loop: (n) => gatewayPolicies(n, noLocal) },
  { name: "gateway policies + bulkhead + client limiter", baseline: "inline bare: v = await fn()", loop: (n) => gatewayPolicies(n, withLocal) },
  { name: "cockatiel 4: wrap(retry,breaker,timeout)", baseline: "bare: await fn()", loop: awaiting(() => cockatielStack.execute(call)) },
  ...(["fixed_window", "sliding_window", "gcra", "fixed_window_shared"] as const).map((algorithm): Variant => ({
    name: `rate limit check, ${algorithm}`, baseline: "",
    loop: async (n) => {
      const l = limiters[algorithm];
      for (let i = 0; i < n; i++) l.check("203.0.113.7");
    },
  })),
];

async function measure(variant: Variant): Promise<number> {
  const start = Bun.nanoseconds();
  await variant.loop(CALLS);
  return (Bun.nanoseconds() - start) / CALLS;
}

const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
for (const v of variants) await measure(v); // warm-up round, discarded
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order each round so drift (GC, other load on the host) spreads over all variants.
  for (let k = 0; k < variants.length; k++) {
    const v = variants[(k + round) % variants.length]!;
    samples.get(v.name)!.push(await measure(v));
  }
}

// Best of rounds is the least disturbed by other processes; the median shows the spread.
const best = (name: string) => Math.min(...samples.get(name)!);
const median = (name: string) => {
  const s = [...samples.get(name)!].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const variant = (name: string) => variants.find((v) => v.name === name)!;
const overhead = (name: string, stat: (n: string) => number) => stat(name) - stat(variant(name).baseline);

console.log(`Bun ${Bun.version}, ${CALLS} calls × ${ROUNDS} rounds; ns/call; overhead = ns/call − its bare baseline\n`);
console.log(`${"variant".padEnd(44)}${"best".padStart(8)}${"median".padStart(8)}${"ovh best".padStart(10)}${"ovh med".padStart(9)}`);
for (const v of variants) {
  const ovh = (stat: (n: string) => number) => (v.baseline === "" ? "" : overhead(v.name, stat).toFixed(0));
  console.log(`${v.name.padEnd(44)}${best(v.name).toFixed(0).padStart(8)}${median(v.name).toFixed(0).padStart(8)}${ovh(best).padStart(10)}${ovh(median).padStart(9)}`);
}

const ratio = (theirs: string, mine: string, stat: (n: string) => number) =>
  `${(Math.max(1, overhead(theirs, stat)) / Math.max(1, overhead(mine, stat))).toFixed(1)}×`;
const both = (theirs: string, mine: string) => `${ratio(theirs, mine, best).padStart(7)} ${ratio(theirs, mine, median).padStart(7)}`;
console.log(`\nratios of overhead, theirs / ours (best, median):`);
console.log(`  opossum defaults / ours breaker.execute    ${both("opossum 10: fire() defaults", "ours: breaker.execute(fn)")}   target ≥ 10×`);
console.log(`  opossum lean / ours breaker.execute        ${both("opossum 10: fire() no timeout/pctl", "ours: breaker.execute(fn)")}`);
console.log(`  cockatiel / ours breaker.execute           ${both("cockatiel 4: breaker (CountBreaker)", "ours: breaker.execute(fn)")}   target ≥ 3×`);
console.log(`  cockatiel / ours inline hot path           ${both("cockatiel 4: breaker (CountBreaker)", "inline ours: tryAcquire + onResult")}`);
console.log(`  opossum defaults / ours inline hot path    ${both("opossum 10: fire() defaults", "inline ours: tryAcquire + onResult")}`);
console.log(`  cockatiel stack / ours pipeline            ${both("cockatiel 4: wrap(retry,breaker,timeout)", "ours: Pipeline retry+breaker+timeout")}`);
console.log(`  ours breaker.execute overhead              ${overhead("ours: breaker.execute(fn)", best).toFixed(0)} / ${overhead("ours: breaker.execute(fn)", median).toFixed(0)} ns   target ≤ 60 ns`);
for (const config of ["default config", "+ bulkhead + client limiter"]) {
  const name = config === "default config" ? "gateway policies, default config" : "gateway policies + bulkhead + client limiter";
  console.log(`  gateway policies per request, ${config.padEnd(27)} ${overhead(name, best).toFixed(0)} / ${overhead(name, median).toFixed(0)} ns`);
}
for (const algorithm of ["fixed_window", "sliding_window", "gcra", "fixed_window_shared"]) {
  const name = `rate limit check, ${algorithm}`;
  console.log(`  rate limiter ${algorithm.padEnd(30)} ${best(name).toFixed(0)} / ${median(name).toFixed(0)} ns per check`);
}
console.log(`  ours inline hot path overhead              ${overhead("inline ours: tryAcquire + onResult", best).toFixed(0)} / ${overhead("inline ours: tryAcquire + onResult", median).toFixed(0)} ns`);

// Memory per breaker: heap growth over 10k instances, after a full GC either side.
function heapAfterGc(): number {
  Bun.gc(true);
  return process.memoryUsage().heapUsed;
}
function bytesPer(create: () => unknown, dispose?: (x: unknown) => void): number {
  const count = 10_000;
  const before = heapAfterGc();
  const kept = Array.from({ length: count }, create);
  const after = heapAfterGc();
  if (dispose) for (const k of kept) dispose(k);
  return (after - before) / count;
}
console.log("\nmemory per breaker (heap delta over 10,000 instances):");
console.log(`  ours (count window 100)                  ${bytesPer(() => new CircuitBreaker({ slidingWindowSize: 100 })).toFixed(0)} B`);
console.log(`  ours (time window 60 s)                  ${bytesPer(() => new CircuitBreaker({ slidingWindowType: "TIME_BASED", slidingWindowSize: 60 })).toFixed(0)} B`);
console.log(`  cockatiel 4 (CountBreaker 100)           ${bytesPer(() => cockatielBreaker(handleAll, { halfOpenAfter: 60_000, breaker: new CountBreaker({ threshold: 0.5, size: 100 }) })).toFixed(0)} B`);
console.log(`  opossum 10 (defaults)                    ${bytesPer(() => new Opossum(call), (b) => (b as Opossum).shutdown()).toFixed(0)} B`);

opossumDefault.shutdown();
opossumLean.shutdown();
