import type { Random } from "../../platform/clock.ts";
import type { Endpoint, EndpointFilter } from "../endpoint.ts";
import { decayedEwmaMs } from "../ewma.ts";
import { type BalancingStrategy, randomAccepted } from "../strategy.ts";

/**
 * Finagle/Linkerd latency-aware balancing: of two random endpoints take the one
 * with the lower cost = peak-EWMA latency × (in-flight + 1), so a slow instance
 * sheds traffic within a few requests and a queueing one sheds it even sooner.
 */
export class P2cEwma implements BalancingStrategy {
  readonly algorithm = "p2c_ewma" as const;
  constructor(
    private readonly random: Random,
    private readonly decayMs: number,
  ) {}

  pick(endpoints: readonly Endpoint[], filter: EndpointFilter, nowMs: number): Endpoint | undefined {
    const a = randomAccepted(endpoints, filter, this.random, undefined);
    if (a === undefined) return undefined;
    const b = randomAccepted(endpoints, filter, this.random, a);
    if (b === undefined) return a;
    return this.cost(b, nowMs) < this.cost(a, nowMs) ? b : a;
  }

  private cost(ep: Endpoint, nowMs: number): number {
    return decayedEwmaMs(ep, nowMs, this.decayMs) * (ep.inflight + 1);
  }
}
