import type { Endpoint, EndpointFilter } from "../endpoint.ts";
import type { BalancingStrategy } from "../strategy.ts";

/** Each accepted endpoint in turn; skipped ones do not shift the others' turns. */
export class RoundRobin implements BalancingStrategy {
  readonly algorithm = "round_robin" as const;
  private cursor = 0;

  pick(endpoints: readonly Endpoint[], filter: EndpointFilter): Endpoint | undefined {
    const n = endpoints.length;
    for (let k = 0; k < n; k++) {
      const i = (this.cursor + k) % n;
      const ep = endpoints[i]!;
      if (filter.accepts(ep)) {
        this.cursor = i + 1 === n ? 0 : i + 1;
        return ep;
      }
    }
    return undefined;
  }
}
