/** One running instance of a role, as discovery reports it. */
export interface ServiceInstance {
  /** Stable id, e.g. `task-service-host-8082` (Consul service ID). */
  readonly id: string;
  /** Role / Consul service name, e.g. `task-service`. */
  readonly service: string;
  readonly address: string;
  /** HTTP port. */
  readonly port: number;
  readonly grpcPort?: number;
  /** Relative weight for weighted balancing; 100 when unset. */
  readonly weight: number;
  /** The release this instance runs (static `version`, Consul `Meta.version`); routes split traffic by it. */
  readonly version?: string;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
}

export type InstancesListener = (instances: readonly ServiceInstance[]) => void;

/** Health of the discovery source itself, shown on /health. */
export interface RegistryHealth {
  status: "UP" | "DOWN" | "UNKNOWN";
  /** e.g. "degraded: consul unreachable, serving last known set". */
  detail?: string;
}

/** A source of instances: static config or Consul. */
export interface Registry {
  /** The current set (possibly empty); never throws. */
  instances(service: string): readonly ServiceInstance[];
  /** Calls `listener` now with the current set and on every change; returns an unsubscribe. */
  watch(service: string, listener: InstancesListener): () => void;
  health(): RegistryHealth;
  close(): Promise<void>;
}
