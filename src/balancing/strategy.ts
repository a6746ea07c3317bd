import type { Random } from "../platform/clock.ts";
import type { Endpoint, EndpointFilter } from "./endpoint.ts";

export const ALGORITHMS = ["round_robin", "weighted_round_robin", "least_connections", "random", "p2c_ewma"] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

/**
 * One load-balancing algorithm. It chooses among `endpoints` those the filter
 * accepts (healthy, not ejected, not full, not excluded — decided by the
 * balancer), or returns undefined when the filter accepts none.
 */
export interface BalancingStrategy {
  readonly algorithm: Algorithm;
  pick(endpoints: readonly Endpoint[], filter: EndpointFilter, nowMs: number): Endpoint | undefined;
}

export interface StrategyDeps {
  random: Random;
  /** Time constant τ of the latency EWMA (p2c_ewma). */
  ewmaDecayMs: number;
}

/** Attempts at random sampling before falling back to a counting pass. */
const REJECTION_TRIES = 4;

/**
 * A uniformly random accepted endpoint other than `skip`, or undefined.
 * Rejection sampling first (O(1) when most are accepted), then an exact pass.
 */
export function randomAccepted(
  endpoints: readonly Endpoint[],
  filter: EndpointFilter,
  random: Random,
  skip: Endpoint | undefined,
): Endpoint | undefined {
  const n = endpoints.length;
  if (n === 0) return undefined;
  for (let t = 0; t < REJECTION_TRIES; t++) {
    const ep = endpoints[Math.floor(random() * n)]!;
    if (ep !== skip && filter.accepts(ep)) return ep;
  }
  let count = 0;
  for (let i = 0; i < n; i++) {
    const ep = endpoints[i]!;
    if (ep !== skip && filter.accepts(ep)) count++;
  }
  if (count === 0) return undefined;
  let k = Math.floor(random() * count);
  for (let i = 0; i < n; i++) {
    const ep = endpoints[i]!;
    if (ep !== skip && filter.accepts(ep) && k-- === 0) return ep;
  }
  return undefined;
}
