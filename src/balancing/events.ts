import { Emitter } from "../resilience/emitter.ts";

/** Passive outlier detection took the instance out of rotation until `untilMs`. */
export interface EjectedEvent {
  service: string;
  instanceId: string;
  untilMs: number;
  ejections: number;
  consecutiveFailures: number;
}

/** An ejection was due but max_ejection_percent already had its share out. */
export interface EjectionSkippedEvent {
  service: string;
  instanceId: string;
  ejectedNow: number;
  maxEjected: number;
}

/** The ejection time ran out; the instance is back in rotation. */
export interface ReturnedEvent {
  service: string;
  instanceId: string;
}

/** Active health checking changed its verdict. */
export interface HealthChangedEvent {
  service: string;
  instanceId: string;
  healthy: boolean;
}

/** What balancers tell telemetry and logs; one set may be shared by every balancer in a process. */
export class BalancerEvents {
  readonly ejected = new Emitter<EjectedEvent>();
  readonly ejectionSkipped = new Emitter<EjectionSkippedEvent>();
  readonly returned = new Emitter<ReturnedEvent>();
  readonly healthChanged = new Emitter<HealthChangedEvent>();
}
