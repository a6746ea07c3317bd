import type { ServiceBalancers } from "../balancing/service-balancers.ts";
import type { Config, Role } from "../config/schema.ts";
import type { Registry } from "../discovery/types.ts";
import type { ResilienceRegistry } from "../resilience/registry.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import type { HealthRegistry } from "./health.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { Logger } from "./logger.ts";
import type { ApiRoute } from "./openapi.ts";

/** What main hands each role: shared parts only; a role wires them. */
export interface RoleContext {
  role: Role;
  config: Config;
  log: Logger;
  metrics: Metrics;
  /** The process's breakers, retries and limiters by name: co-located roles share them (and one /metrics export). */
  resilience: ResilienceRegistry;
  /**
   * One balancer (and active health checker) per downstream service for the whole process,
   * so co-located roles (`--role=all`) probe each instance once. main.ts closes them.
   */
  balancers: ServiceBalancers;
  lifecycle: Lifecycle;
  /** Checks shown on this role's /health. */
  health: HealthRegistry;
  registry: Registry;
  version: string;
  /** Every service role's public REST routes (src/roles/catalog.ts): the gateway proxies and documents them. */
  publicApi: readonly ApiRoute[];
  /** Effective ports (flags already applied). */
  httpPort: number;
  grpcPort?: number;
}

export interface RoleHandle {
  role: Role;
  httpPort: number;
  grpcPort?: number;
  /** A ready token for trying the gateway (embedded default with a generated secret only). */
  devToken?: string;
}
