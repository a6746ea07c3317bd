import type { Registry } from "../discovery/types.ts";
import { type Clock, type Random, systemClock, systemRandom } from "../platform/clock.ts";
import { LoadBalancer } from "./balancer.ts";
import { balancerOptionsFor, type LoadBalancerConfig } from "./config.ts";
import { BalancerEvents } from "./events.ts";
import { HealthChecker, type HealthProbe, httpHealthProbe } from "./health-checker.ts";
import type { ServiceSnapshot } from "./snapshot.ts";

export interface ServiceBalancersOptions {
  registry: Registry;
  /** The parsed `load_balancer` section; defaults when absent. */
  config?: LoadBalancerConfig;
  /** Probe instances ourselves (static discovery); Consul's own checks make this unnecessary there. */
  activeHealthChecks?: boolean;
  /** Default: GET http://address:port{health_check.path} expecting 200. */
  probe?: HealthProbe;
  /** The default probe speaks HTTPS, verifying instances with this CA (and name). */
  probeTls?: { ca: string; serverName?: string };
  clock?: Clock;
  random?: Random;
}

interface Entry {
  balancer: LoadBalancer;
  checker: HealthChecker | undefined;
  unwatch: () => void;
}

/**
 * One LoadBalancer per service, created on first use and kept in step with
 * discovery (and with active health checks when asked). Shared by the gateway
 * and service→service clients.
 */
export class ServiceBalancers {
  readonly events = new BalancerEvents();
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly random: Random;

  constructor(private readonly opts: ServiceBalancersOptions) {
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? systemRandom;
  }

  get(service: string): LoadBalancer {
    const existing = this.entries.get(service);
    if (existing !== undefined) return existing.balancer;

    const options = balancerOptionsFor(this.opts.config, service);
    const balancer = new LoadBalancer(service, options, { clock: this.clock, random: this.random, events: this.events });
    let checker: HealthChecker | undefined;
    if (this.opts.activeHealthChecks && options.healthCheck.enabled) {
      const hc = options.healthCheck;
      checker = new HealthChecker({
        probe: this.opts.probe ?? httpHealthProbe(hc.path, this.opts.probeTls),
        intervalMs: hc.intervalMs,
        timeoutMs: hc.timeoutMs,
        healthyThreshold: hc.healthyThreshold,
        unhealthyThreshold: hc.unhealthyThreshold,
        clock: this.clock,
        onChange: (instance, healthy) => balancer.setHealthy(instance.id, healthy),
      });
    }
    const entry: Entry = { balancer, checker, unwatch: () => {} };
    this.entries.set(service, entry);
    entry.unwatch = this.opts.registry.watch(service, (instances) => {
      balancer.setInstances(instances);
      checker?.setInstances(instances); // survivors keep their verdict in both; new ones start healthy in both
    });
    return balancer;
  }

  /** Services with a balancer so far. */
  services(): string[] {
    return [...this.entries.keys()];
  }

  /** For GET /api/_gateway/services: the seed's `{healthy, instances}` per service. */
  snapshot(): Record<string, ServiceSnapshot> {
    const out: Record<string, ServiceSnapshot> = {};
    for (const [service, entry] of this.entries) out[service] = entry.balancer.snapshot();
    return out;
  }

  close(): void {
    for (const entry of this.entries.values()) {
      entry.unwatch();
      entry.checker?.close();
      entry.balancer.close();
    }
    this.entries.clear();
  }
}
