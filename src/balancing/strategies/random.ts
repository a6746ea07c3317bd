import type { Random } from "../../platform/clock.ts";
import type { Endpoint, EndpointFilter } from "../endpoint.ts";
import { type BalancingStrategy, randomAccepted } from "../strategy.ts";

/** Uniform over accepted endpoints; no shared state, so nothing to coordinate. */
export class RandomChoice implements BalancingStrategy {
  readonly algorithm = "random" as const;
  constructor(private readonly random: Random) {}

  pick(endpoints: readonly Endpoint[], filter: EndpointFilter): Endpoint | undefined {
    return randomAccepted(endpoints, filter, this.random, undefined);
  }
}
