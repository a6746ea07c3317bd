import type { Algorithm, BalancingStrategy, StrategyDeps } from "../strategy.ts";
import { LeastConnections } from "./least-connections.ts";
import { P2cEwma } from "./p2c-ewma.ts";
import { RandomChoice } from "./random.ts";
import { RoundRobin } from "./round-robin.ts";
import { WeightedRoundRobin } from "./weighted-round-robin.ts";

export { LeastConnections, P2cEwma, RandomChoice, RoundRobin, WeightedRoundRobin };

export function createStrategy(algorithm: Algorithm, deps: StrategyDeps): BalancingStrategy {
  switch (algorithm) {
    case "round_robin":
      return new RoundRobin();
    case "weighted_round_robin":
      return new WeightedRoundRobin();
    case "least_connections":
      return new LeastConnections(deps.random);
    case "random":
      return new RandomChoice(deps.random);
    case "p2c_ewma":
      return new P2cEwma(deps.random, deps.ewmaDecayMs);
  }
}
