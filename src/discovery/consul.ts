import { isAbsolute, join } from "node:path";
import type { Config } from "../config/schema.ts";
import { type Clock, type Random, systemClock, systemRandom } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { Backoff } from "./consul-backoff.ts";
import { type ConsulApi, ConsulHttpApi } from "./consul-client.ts";
import { ConsulOutage, describe } from "./consul-outage.ts";
import { ServiceWatch } from "./consul-watch.ts";
import { ConsulRegistrar } from "./registration.ts";
import { SnapshotFile } from "./snapshot.ts";
import type { InstancesListener, Registry, RegistryHealth, ServiceInstance } from "./types.ts";

export interface ConsulRegistryOptions {
  api: ConsulApi;
  log: Logger;
  clock?: Clock;
  random?: Random;
  /** Blocking query wait (Consul caps it at 10 min). */
  waitMs: number;
  minQueryIntervalMs: number;
  backoff: { initialMs: number; maxMs: number };
  /** Only instances with this tag. */
  tag?: string;
  /** Last-known-good sets on disk; loaded now, kept up to date. */
  snapshot?: SnapshotFile;
  /** Shared with registration so one outage logs one warning. */
  outage?: ConsulOutage;
}

/**
 * Discovery from Consul: one blocking-query watch per service, started on first use. Between
 * answers (and while Consul is away) every caller gets the last known set, from memory or from
 * the snapshot file a previous run left.
 */
export class ConsulRegistry implements Registry {
  readonly api: ConsulApi;
  readonly outage: ConsulOutage;
  private readonly watches = new Map<string, ServiceWatch>();
  private readonly listeners = new Map<string, Set<InstancesListener>>();
  private readonly clock: Clock;
  private readonly random: Random;
  private closed = false;

  constructor(private readonly options: ConsulRegistryOptions) {
    this.api = options.api;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.outage = options.outage ?? new ConsulOutage(options.log, options.api.address, this.clock);
    for (const service of options.snapshot?.load().keys() ?? []) this.ensure(service);
  }

  instances(service: string): readonly ServiceInstance[] {
    return this.ensure(service).instances;
  }

  watch(service: string, listener: InstancesListener): () => void {
    let set = this.listeners.get(service);
    if (!set) this.listeners.set(service, (set = new Set()));
    set.add(listener);
    listener(this.ensure(service).instances);
    return () => set.delete(listener);
  }

  /** Starts watching `services` and waits (at most `timeoutMs`) until each has had a first answer. */
  async ready(services: readonly string[], timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(services.map((s) => this.ensure(s).firstAnswer)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  health(): RegistryHealth {
    const failing = [...this.watches.values()].filter((w) => w.isFailing);
    if (failing.length === 0) return { status: "UP", detail: `consul ${this.api.address}` };
    const now = this.clock.now();
    const since = Math.min(...failing.map((w) => w.failingSince ?? now));
    const latest = failing.reduce((a, b) => ((b.failingSince ?? 0) >= (a.failingSince ?? 0) ? b : a));
    const sets = failing.map((w) => {
      if (w.source === "none") return `${w.service}: none known`;
      const age = Math.round((now - (w.confirmedAt ?? now)) / 1000);
      return `${w.service}: ${w.instances.length} from ${w.source} ${age} s ago`;
    });
    const blind = failing.some((w) => w.source === "none");
    return {
      // Never DOWN: the process works and serves what it knows; UNKNOWN only when it knows nothing.
      status: blind ? "UNKNOWN" : "UP",
      detail: `degraded: consul ${this.api.address} failing for ${Math.round((now - since) / 1000)} s (${describe(latest.lastError)}); serving last known set (${sets.join(", ")})`,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watches.values()) w.close();
    this.listeners.clear();
    this.options.snapshot?.flush();
    this.api.close();
  }

  private ensure(service: string): ServiceWatch {
    const existing = this.watches.get(service);
    if (existing) return existing;
    const { options } = this;
    const seed = options.snapshot?.get(service);
    const watch = new ServiceWatch({
      service,
      api: this.api,
      clock: this.clock,
      backoff: new Backoff({ ...options.backoff, random: this.random }),
      waitMs: options.waitMs,
      minIntervalMs: options.minQueryIntervalMs,
      ...(options.tag ? { tag: options.tag } : {}),
      ...(seed ? { seed } : {}),
      onChange: (instances) => {
        options.snapshot?.update(service, instances);
        for (const l of this.listeners.get(service) ?? []) l(instances);
      },
      onSuccess: () => this.outage.succeeded(`discovery of ${service}`),
      onFailure: (error) => this.outage.failed(`discovery of ${service}`, error, "discovery serves the last known instances"),
    });
    this.watches.set(service, watch);
    if (!this.closed) watch.start();
    return watch;
  }
}

/** Services every role may call; watched from the start so the first request finds a set. */
const PEER_SERVICES = ["task-service", "form-service", "process-service"];

export function snapshotPath(config: Config): string {
  const file = config.discovery.snapshot_file ?? "discovery-snapshot.json";
  return isAbsolute(file) ? file : join(config.data_dir, file);
}

/** Consul discovery as config asks; waits briefly for first answers (or fails fast when Consul is down). */
export async function createConsulRegistry(config: Config, log: Logger): Promise<ConsulRegistry> {
  const c = config.consul;
  const api = new ConsulHttpApi({ address: c.address, datacenter: c.datacenter, ...(c.token ? { token: c.token } : {}) });
  const dlog = log.child({ component: "discovery" });
  const registry = new ConsulRegistry({
    api,
    log: dlog,
    waitMs: c.blocking_wait,
    minQueryIntervalMs: c.min_query_interval,
    backoff: { initialMs: c.backoff.initial, maxMs: c.backoff.max },
    ...(c.discovery_tag ? { tag: c.discovery_tag } : {}),
    snapshot: new SnapshotFile(snapshotPath(config), { log: dlog }),
  });
  await registry.ready(PEER_SERVICES, 1_500);
  return registry;
}

/** Registration of this process's role instances with the agent discovery uses (one client, one outage log). */
export function createConsulRegistrar(config: Config, log: Logger, version: string, registry?: unknown): ConsulRegistrar {
  const c = config.consul;
  const shared = registry instanceof ConsulRegistry ? registry : undefined;
  const api = shared?.api ?? new ConsulHttpApi({ address: c.address, datacenter: c.datacenter, ...(c.token ? { token: c.token } : {}) });
  const rlog = log.child({ component: "registration" });
  return new ConsulRegistrar({
    api,
    log: rlog,
    outage: shared?.outage ?? new ConsulOutage(rlog, api.address),
    antiEntropyMs: c.anti_entropy_interval,
    backoff: { initialMs: c.backoff.initial, maxMs: c.backoff.max },
    tags: c.tags,
    address: config.advertise_address,
    version,
    weight: c.weight,
    checks: { intervalMs: c.checks.interval, timeoutMs: c.checks.timeout, deregisterCriticalServiceAfterMs: c.checks.deregister_critical_service_after },
    ...(config.http_tls.enabled ? { httpTls: tlsName(config.http_tls.server_name) } : {}),
    ...(config.grpc_tls.enabled ? { grpcTls: tlsName(config.grpc_tls.server_name) } : {}),
  });
}

function tlsName(serverName: string | undefined): { serverName?: string } {
  return serverName !== undefined ? { serverName } : {};
}
