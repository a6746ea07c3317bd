import type { ServiceInstance } from "../discovery/types.ts";
import { type Clock, type Random, systemClock, systemRandom } from "../platform/clock.ts";
import { type BalancerOptions, LOAD_BALANCER_DEFAULTS } from "./config.ts";
import { Endpoint, type EndpointFilter } from "./endpoint.ts";
import { BalancerEvents } from "./events.ts";
import { decayedEwmaMs, observeLatency } from "./ewma.ts";
import { Lease, type ReleaseReport, type Settler } from "./lease.ts";
import { decayedEjections, ejectionDurationMs, maxEjectable } from "./outlier.ts";
import { type ServiceSnapshot, snapshotOf } from "./snapshot.ts";
import { stickyIdFor } from "./sticky.ts";
import { createStrategy } from "./strategies/index.ts";
import type { BalancingStrategy } from "./strategy.ts";

export interface PickOptions {
  /** Sticky-session cookie value (see Lease.stickyId). */
  stickyId?: string;
  /** Instance ids not to use, e.g. those a retry already tried. */
  exclude?: ReadonlySet<string>;
  /** Only instances of this version (a route's version split, or a client's pin). */
  version?: string;
  /** The caller's own clock reading for this request's start, if it took one (saves a clock read). */
  nowMs?: number;
}

/** Why no endpoint could be picked; the caller answers 503 (UNAVAILABLE). */
export type NoEndpointReason = "no_instances" | "all_unhealthy" | "all_full" | "all_excluded";

export interface NoEndpoint {
  readonly ok: false;
  readonly service: string;
  readonly reason: NoEndpointReason;
  /** When an ejected instance comes back, if that is what all are waiting for. */
  readonly retryAfterMs: number | undefined;
}

export type PickResult = Lease | NoEndpoint;

export interface LoadBalancerDeps {
  clock?: Clock;
  random?: Random;
  /** Shared with other balancers so telemetry subscribes once. */
  events?: BalancerEvents;
}

/** Reused for every pick: mutable fields instead of a fresh closure. */
class PickFilter implements EndpointFilter {
  nowMs = 0;
  exclude: ReadonlySet<string> | undefined = undefined;
  version: string | undefined = undefined;
  honourBackoff = true;

  accepts(ep: Endpoint): boolean {
    return (
      (this.version === undefined || ep.instance.version === this.version) &&
      ep.healthy &&
      !ep.ejected &&
      ep.inflight < ep.maxConnections &&
      (!this.honourBackoff || ep.backoffUntilMs <= this.nowMs) &&
      (this.exclude === undefined || !this.exclude.has(ep.id))
    );
  }
}

/**
 * One service's balancer: endpoint state per instance, a strategy to choose
 * among the usable ones, passive outlier ejection, load back-off, in-flight caps
 * and sticky sessions. Synchronous and allocation-light on the pick path.
 */
export class LoadBalancer implements Settler {
  readonly events: BalancerEvents;
  private readonly clock: Clock;
  private readonly strategy: BalancingStrategy;
  private readonly filter = new PickFilter();
  private endpoints: Endpoint[] = [];
  private readonly byId = new Map<string, Endpoint>();
  private readonly bySticky = new Map<string, Endpoint>();
  private ejectedCount = 0;

  constructor(
    readonly service: string,
    readonly options: BalancerOptions = LOAD_BALANCER_DEFAULTS,
    deps: LoadBalancerDeps = {},
  ) {
    this.clock = deps.clock ?? systemClock;
    this.events = deps.events ?? new BalancerEvents();
    this.strategy = createStrategy(options.algorithm, {
      random: deps.random ?? systemRandom,
      ewmaDecayMs: options.ewma.decayMs,
    });
  }

  get algorithm(): string {
    return this.strategy.algorithm;
  }

  get size(): number {
    return this.endpoints.length;
  }

  /** Replaces the instance set (discovery changed): survivors keep their state, the rest is dropped. */
  setInstances(instances: readonly ServiceInstance[]): void {
    const now = this.clock.now();
    const neutralEwmaMs = this.neutralEwmaMs(now);
    const next: Endpoint[] = [];
    const seen = new Set<string>();
    for (const instance of instances) {
      if (seen.has(instance.id)) continue;
      seen.add(instance.id);
      let ep = this.byId.get(instance.id);
      if (ep === undefined) {
        ep = new Endpoint(instance, stickyIdFor(instance.id), now, neutralEwmaMs);
      } else {
        ep.instance = instance;
      }
      this.applyBackendConfig(ep);
      next.push(ep);
    }
    for (const ep of this.endpoints) {
      if (!seen.has(ep.id)) this.drop(ep);
    }
    this.endpoints = next;
    this.byId.clear();
    this.bySticky.clear();
    for (const ep of next) {
      this.byId.set(ep.id, ep);
      this.bySticky.set(ep.stickyId, ep);
    }
  }

  /** Chooses an instance, or says why none can take the request. */
  pick(opts?: PickOptions): PickResult {
    const endpoints = this.endpoints;
    if (endpoints.length === 0) return this.noEndpoint("no_instances", undefined);
    const now = opts?.nowMs ?? this.clock.now();
    const filter = this.filter;
    filter.nowMs = now;
    filter.exclude = opts?.exclude;
    const version = (filter.version = opts?.version);
    let repinned = false;

    const stickyId = opts?.stickyId;
    if (stickyId !== undefined) {
      // Affinity outlives load back-off (the session lives there), not health, ejection or the cap.
      const pinned = this.bySticky.get(stickyId);
      filter.honourBackoff = false;
      if (pinned !== undefined && filter.accepts(pinned)) {
        filter.exclude = undefined;
        filter.version = undefined;
        return this.lease(pinned, now, false);
      }
      repinned = true;
    }

    filter.honourBackoff = true;
    let ep = this.strategy.pick(endpoints, filter, now);
    if (ep === undefined) {
      // Everyone usable is backing off: a backed-off instance beats a 503.
      filter.honourBackoff = false;
      ep = this.strategy.pick(endpoints, filter, now);
    }
    filter.exclude = undefined;
    filter.version = undefined;
    if (ep === undefined) return this.noEndpointFor(now, opts?.exclude, version);
    return this.lease(ep, now, repinned);
  }

  /** Active health-check verdict for one instance (ignored for unknown ids). */
  setHealthy(instanceId: string, healthy: boolean): void {
    const ep = this.byId.get(instanceId);
    if (ep === undefined || ep.healthy === healthy) return;
    ep.healthy = healthy;
    this.events.healthChanged.emit({ service: this.service, instanceId, healthy });
  }

  /** The instance whose sticky id this is, if still present. */
  instanceForStickyId(stickyId: string): ServiceInstance | undefined {
    return this.bySticky.get(stickyId)?.instance;
  }

  snapshot(): ServiceSnapshot {
    return snapshotOf(this.endpoints, this.strategy.algorithm, this.clock.now(), this.options.ewma.decayMs);
  }

  /** Stops ejection timers; the balancer then holds no resources. */
  close(): void {
    for (const ep of this.endpoints) this.drop(ep);
    this.endpoints = [];
    this.byId.clear();
    this.bySticky.clear();
  }

  /** @internal Called by Lease.release. */
  settle(ep: Endpoint, startedAtMs: number, report: ReleaseReport | undefined): void {
    ep.inflight--;
    if (ep.removed) return;
    const outcome = report?.outcome ?? "success";
    if (outcome === "cancelled") return;
    const reported = report?.latencyMs;
    if (outcome === "success") {
      // Hot path: a reported latency also dates the answer, saving a clock read (~40 ns here).
      const now = reported === undefined ? this.clock.now() : startedAtMs + reported;
      ep.consecutiveFailures = 0;
      observeLatency(ep, reported ?? now - startedAtMs, now, this.options.ewma.decayMs);
      return;
    }
    const now = this.clock.now();
    const latencyMs = reported ?? now - startedAtMs;
    if (outcome === "failure") {
      // A fast failure must not make a broken instance look attractive: only raise the estimate.
      if (latencyMs > ep.ewmaMs) observeLatency(ep, latencyMs, now, this.options.ewma.decayMs);
      if (ep.ejected) return; // a late answer from before the ejection
      ep.consecutiveFailures++;
      this.maybeEject(ep, now);
      return;
    }
    // outcome === "load"
    const { defaultMs, maxMs } = this.options.loadBackoff;
    const backoffMs = Math.min(Math.max(0, report?.retryAfterMs ?? defaultMs), maxMs);
    ep.backoffUntilMs = Math.max(ep.backoffUntilMs, now + backoffMs);
  }

  private lease(ep: Endpoint, now: number, repinned: boolean): Lease {
    ep.inflight++;
    return new Lease(this, ep, now, repinned);
  }

  private maybeEject(ep: Endpoint, now: number): void {
    const o = this.options.outlier;
    if (!o.enabled || ep.consecutiveFailures < o.consecutiveErrors) return;
    const maxEjected = maxEjectable(this.endpoints.length, o.maxEjectionPercent);
    if (this.ejectedCount >= maxEjected) {
      if (ep.consecutiveFailures === o.consecutiveErrors) {
        this.events.ejectionSkipped.emit({
          service: this.service,
          instanceId: ep.id,
          ejectedNow: this.ejectedCount,
          maxEjected,
        });
      }
      return;
    }
    ep.ejections = decayedEjections(ep.ejections, now - ep.inRotationSinceMs, o.baseEjectionTimeMs) + 1;
    const durationMs = ejectionDurationMs(ep.ejections, o.baseEjectionTimeMs, o.maxEjectionTimeMs);
    ep.ejected = true;
    ep.ejectedUntilMs = now + durationMs;
    this.ejectedCount++;
    const timer = this.clock.setTimeout(() => this.unEject(ep), durationMs);
    timer.unref?.();
    ep.ejectionTimer = timer;
    this.events.ejected.emit({
      service: this.service,
      instanceId: ep.id,
      untilMs: ep.ejectedUntilMs,
      ejections: ep.ejections,
      consecutiveFailures: ep.consecutiveFailures,
    });
  }

  private unEject(ep: Endpoint): void {
    ep.ejectionTimer = undefined;
    if (!ep.ejected || ep.removed) return;
    ep.ejected = false;
    ep.consecutiveFailures = 0;
    ep.inRotationSinceMs = this.clock.now();
    this.ejectedCount--;
    this.events.returned.emit({ service: this.service, instanceId: ep.id });
  }

  private drop(ep: Endpoint): void {
    ep.removed = true;
    if (ep.ejectionTimer !== undefined) this.clock.clearTimeout(ep.ejectionTimer);
    ep.ejectionTimer = undefined;
    if (ep.ejected) this.ejectedCount--;
    ep.ejected = false;
  }

  private applyBackendConfig(ep: Endpoint): void {
    const { backends } = this.options;
    const inst = ep.instance;
    const override = backends.size === 0 ? undefined : (backends.get(inst.id) ?? backends.get(`${inst.address}:${inst.port}`));
    ep.weight = Math.max(1, override?.weight ?? inst.weight);
    ep.maxConnections = override?.maxConnections ?? this.options.maxConnections;
  }

  /** A new instance starts at the average of the current estimates: neither favoured nor shunned. */
  private neutralEwmaMs(now: number): number {
    if (this.endpoints.length === 0) return this.options.ewma.defaultRttMs;
    let sum = 0;
    for (const ep of this.endpoints) sum += decayedEwmaMs(ep, now, this.options.ewma.decayMs);
    return sum / this.endpoints.length;
  }

  private noEndpointFor(now: number, exclude: ReadonlySet<string> | undefined, version: string | undefined): NoEndpoint {
    let inRotation = 0;
    let inRotationNotExcluded = 0;
    let earliestReturnMs = Infinity;
    let ofVersion = 0;
    for (const ep of this.endpoints) {
      if (version !== undefined && ep.instance.version !== version) continue;
      ofVersion++;
      if (ep.ejected) earliestReturnMs = Math.min(earliestReturnMs, ep.ejectedUntilMs);
      if (!ep.healthy || ep.ejected) continue;
      inRotation++;
      if (exclude === undefined || !exclude.has(ep.id)) inRotationNotExcluded++;
    }
    if (ofVersion === 0) return this.noEndpoint("no_instances", undefined);
    if (inRotation === 0) {
      return this.noEndpoint("all_unhealthy", Number.isFinite(earliestReturnMs) ? earliestReturnMs - now : undefined);
    }
    if (inRotationNotExcluded === 0) return this.noEndpoint("all_excluded", undefined);
    return this.noEndpoint("all_full", undefined);
  }

  private noEndpoint(reason: NoEndpointReason, retryAfterMs: number | undefined): NoEndpoint {
    return { ok: false, service: this.service, reason, retryAfterMs };
  }
}
