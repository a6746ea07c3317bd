export { LoadBalancer, type LoadBalancerDeps, type NoEndpoint, type NoEndpointReason, type PickOptions, type PickResult } from "./balancer.ts";
export { Lease, type Outcome, type ReleaseReport } from "./lease.ts";
export { type InstanceSnapshot, type ServiceSnapshot } from "./snapshot.ts";
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
export { BalancerEvents, type EjectedEvent, type EjectionSkippedEvent, type HealthChangedEvent, type ReturnedEvent } from "./events.ts";
export { HealthChecker, type HealthCheckerOptions, type HealthProbe, httpHealthProbe } from "./health_checker.ts";
export { maxEjectable } from "./outlier.ts";
export { readStickyCookie, stickyCookie, stickyIdFor } from "./sticky.ts";
export { ALGORITHMS, type Algorithm, type BalancingStrategy } from "./strategy.ts";
