import type { Endpoint, EndpointFilter } from "../endpoint.ts";
import type { BalancingStrategy } from "../strategy.ts";

/**
 * nginx's smooth weighted round robin: every pick adds each accepted endpoint's
 * weight to its running total, takes the largest and subtracts the sum from it,
 * so weights 5:1:1 give a a b a c a a rather than a a a a a b c.
 */
export class WeightedRoundRobin implements BalancingStrategy {
  readonly algorithm = "weighted_round_robin" as const;

  pick(endpoints: readonly Endpoint[], filter: EndpointFilter): Endpoint | undefined {
    let best: Endpoint | undefined;
    let total = 0;
    for (let i = 0; i < endpoints.length; i++) {
      const ep = endpoints[i]!;
      if (!filter.accepts(ep)) continue;
      ep.wrrCurrent += ep.weight;
      total += ep.weight;
      if (best === undefined || ep.wrrCurrent > best.wrrCurrent) best = ep;
    }
    if (best !== undefined) best.wrrCurrent -= total;
    return best;
  }
}
