import type { Registry } from "../discovery/types.ts";
import type { Metrics } from "./metrics.ts";

/** Instance counts of `services` and the registry's own health, read on every scrape (bpm_discovery_instances, bpm_discovery_up). */
export function observeRegistry(registry: Registry, services: readonly string[], metrics: Metrics): void {
  metrics.watchDiscovery(
    () => services.map((s) => [s, registry.instances(s).length] as const),
    () => registry.health().status === "UP",
  );
}

/** One failed call to the discovery source, e.g. ("consul", "health_service") or ("consul", "register"). */
export function recordDiscoveryError(source: string, operation: string, metrics: Metrics): void {
  metrics.discoveryErrors.labels(source, operation).inc();
}
