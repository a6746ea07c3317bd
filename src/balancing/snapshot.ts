import type { Endpoint } from "./endpoint.ts";
import { decayedEwmaMs } from "./ewma.ts";

export interface InstanceSnapshot {
  id: string;
  address: string;
  port: number;
  grpcPort: number | null;
  /** The release it runs (static `version`, Consul `Meta.version`); null when unknown. */
  version: string | null;
  /** Active health-check verdict. */
  healthy: boolean;
  ejected: boolean;
  ejectedUntil: string | null;
  ejections: number;
  consecutiveFailures: number;
  backedOffUntil: string | null;
  inflight: number;
  maxConnections: number | null;
  ewmaMs: number;
  weight: number;
}

/** The seed's status shape (`healthy`, `instances`), instances in detail. */
export interface ServiceSnapshot {
  /** At least one instance is healthy and not ejected. */
  healthy: boolean;
  algorithm: string;
  instances: InstanceSnapshot[];
}

/** Plain JSON for GET /api/_gateway/services; times as ISO strings, null when not in the future. */
export function snapshotOf(endpoints: readonly Endpoint[], algorithm: string, nowMs: number, ewmaDecayMs: number): ServiceSnapshot {
  const iso = (ms: number): string | null => (ms > nowMs ? new Date(ms).toISOString() : null);
  return {
    healthy: endpoints.some((ep) => ep.healthy && !ep.ejected),
    algorithm,
    instances: endpoints.map(
      (ep): InstanceSnapshot => ({
        id: ep.id,
        address: ep.instance.address,
        port: ep.instance.port,
        grpcPort: ep.instance.grpcPort ?? null,
        version: ep.instance.version ?? null,
        healthy: ep.healthy,
        ejected: ep.ejected,
        ejectedUntil: ep.ejected ? iso(ep.ejectedUntilMs) : null,
        ejections: ep.ejections,
        consecutiveFailures: ep.consecutiveFailures,
        backedOffUntil: iso(ep.backoffUntilMs),
        inflight: ep.inflight,
        maxConnections: Number.isFinite(ep.maxConnections) ? ep.maxConnections : null,
        ewmaMs: Math.round(decayedEwmaMs(ep, nowMs, ewmaDecayMs) * 100) / 100,
        weight: ep.weight,
      }),
    ),
  };
}
