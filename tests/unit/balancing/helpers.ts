import type { ServiceInstance } from "../../../src/discovery/types.ts";
import type { Random } from "../../../src/platform/clock.ts";
import { type BalancerOptions, LOAD_BALANCER_DEFAULTS } from "../../../src/balancing/config.ts";
import type { PickResult } from "../../../src/balancing/balancer.ts";
import type { Lease } from "../../../src/balancing/lease.ts";

export function instance(id: string, extra: Partial<ServiceInstance> = {}): ServiceInstance {
  const port = 9000 + Number(id.replace(/\D/g, "") || 0);
  return { id, service: "task-service", address: "10.0.0.1", port, weight: 100, tags: [], meta: {}, ...extra };
}

export function instances(...ids: string[]): ServiceInstance[] {
  return ids.map((id) => instance(id));
}

/** Deterministic PRNG (mulberry32) so distribution tests do not flake. */
export function seededRandom(seed = 42): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function options(patch: Partial<BalancerOptions> = {}): BalancerOptions {
  return { ...LOAD_BALANCER_DEFAULTS, ...patch };
}

export function outlier(patch: Partial<BalancerOptions["outlier"]>): BalancerOptions["outlier"] {
  return { ...LOAD_BALANCER_DEFAULTS.outlier, ...patch };
}

/** The lease, failing the test if the balancer said no. */
export function leased(result: PickResult): Lease {
  if (!result.ok) throw new Error(`expected a lease, got ${result.reason}`);
  return result;
}

export function countBy<T>(items: readonly T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

/** Lets promise callbacks (a probe's answer) run; no time passes. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
