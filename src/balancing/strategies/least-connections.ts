import type { Random } from "../../platform/clock.ts";
import type { Endpoint, EndpointFilter } from "../endpoint.ts";
import { type BalancingStrategy, randomAccepted } from "../strategy.ts";

/**
 * Fewest in-flight requests. With more than two endpoints it compares two
 * random ones (power of two choices): nearly as good as a full scan, O(1), and
 * several balancers sharing backends do not all herd onto the same idle one.
 */
export class LeastConnections implements BalancingStrategy {
  readonly algorithm = "least_connections" as const;
  constructor(private readonly random: Random) {}

  pick(endpoints: readonly Endpoint[], filter: EndpointFilter): Endpoint | undefined {
    if (endpoints.length <= 2) return this.scan(endpoints, filter);
    const a = randomAccepted(endpoints, filter, this.random, undefined);
    if (a === undefined) return undefined;
    const b = randomAccepted(endpoints, filter, this.random, a);
    if (b === undefined) return a;
    return b.inflight < a.inflight ? b : a;
  }

  /** Minimum over all, ties broken at random so idle endpoints share the traffic. */
  private scan(endpoints: readonly Endpoint[], filter: EndpointFilter): Endpoint | undefined {
    let best: Endpoint | undefined;
    let ties = 0;
    for (let i = 0; i < endpoints.length; i++) {
      const ep = endpoints[i]!;
      if (!filter.accepts(ep)) continue;
      if (best === undefined || ep.inflight < best.inflight) {
        best = ep;
        ties = 1;
      } else if (ep.inflight === best.inflight && this.random() * ++ties < 1) {
        best = ep;
      }
    }
    return best;
  }
}
