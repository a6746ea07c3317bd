import type { ServiceInstance } from "../discovery/types.ts";
import type { TimerHandle } from "../platform/clock.ts";

/**
 * What one balancer knows about one instance. Plain mutable fields on one object
 * so strategies read them without lookups or allocation on the hot path.
 */
export class Endpoint {
  instance: ServiceInstance;
  readonly id: string;
  /** Opaque value for the sticky-session cookie (hash of the id, never the address). */
  readonly stickyId: string;
  /** Effective weight (config override, else instance.weight), at least 1. */
  weight = 1;
  /** In-flight cap; Infinity when unlimited. */
  maxConnections = Infinity;

  inflight = 0;
  /** Active health-check verdict; true until a checker says otherwise. */
  healthy = true;

  ejected = false;
  ejectedUntilMs = 0;
  /** Ejection multiplier (Envoy): grows per ejection, decays while in rotation. */
  ejections = 0;
  /** When the instance last came back from ejection (or was added). */
  inRotationSinceMs: number;
  consecutiveFailures = 0;
  ejectionTimer: TimerHandle | undefined = undefined;

  /** Load signal (429 / RESOURCE_EXHAUSTED): prefer others until then. */
  backoffUntilMs = 0;

  /** Peak-EWMA latency estimate and when it was last updated. */
  ewmaMs: number;
  ewmaUpdatedAtMs: number;

  /** Smooth weighted round robin's running weight (owned by that strategy). */
  wrrCurrent = 0;

  /** Set once discovery dropped it; late releases then change nothing. */
  removed = false;

  constructor(instance: ServiceInstance, stickyId: string, nowMs: number, initialEwmaMs: number) {
    this.instance = instance;
    this.id = instance.id;
    this.stickyId = stickyId;
    this.inRotationSinceMs = nowMs;
    this.ewmaMs = initialEwmaMs;
    this.ewmaUpdatedAtMs = nowMs;
  }
}

/** Which endpoints a strategy may choose; one reused object per balancer, never a per-pick closure. */
export interface EndpointFilter {
  accepts(endpoint: Endpoint): boolean;
}
