export {
  type InstanceSnapshot,
  Lease,
  LoadBalancer,
  type LoadBalancerDeps,
  type NoEndpoint,
  type NoEndpointReason,
  type Outcome,
  type PickOptions,
  type PickResult,
  type ReleaseReport,
  type ServiceSnapshot,
} from "./balancer.ts";
export { ServiceBalancers, type ServiceBalancersOptions } from "./balancers.ts";
export {
  balancerOptionsFor,
  type BalancerOptions,
  LOAD_BALANCER_DEFAULTS,
  type LoadBalancerConfig,
  type LoadBalancerConfigInput,
  loadBalancerSchema,
  parseLoadBalancerConfig,
} from "./config.ts";
export { type BalancerEvents, Emitter } from "./events.ts";
export { HealthChecker, type HealthCheckerOptions, type HealthProbe, httpHealthProbe } from "./health_checker.ts";
export { maxEjectable } from "./outlier.ts";
export { readStickyCookie, stickyCookie, stickyIdFor } from "./sticky.ts";
export { ALGORITHMS, type Algorithm, type BalancingStrategy } from "./strategy.ts";
