import type { ServiceInstance } from "../discovery/types.ts";
import { type Clock, type TimerHandle, systemClock } from "../platform/clock.ts";

/** Resolves true when the instance is fine; false, a throw or an abort all count as a failed probe. */
export type HealthProbe = (instance: ServiceInstance, signal: AbortSignal) => Promise<boolean>;

/**
 * GET http://address:port{path}, healthy on 200 (seed 000 §4: /health answers 503 when DOWN).
 * With `tls`, https:// verified against its CA (and name): an unverified peer is a failed probe.
 */
export function httpHealthProbe(path = "/health", tls?: { ca: string; serverName?: string }): HealthProbe {
  const scheme = tls !== undefined ? "https" : "http";
  return async (instance, signal) => {
    const host = instance.address.includes(":") ? `[${instance.address}]` : instance.address;
    const res = await fetch(`${scheme}://${host}:${instance.port}${path}`, { signal, redirect: "manual", ...(tls !== undefined ? { tls } : {}) });
    await res.body?.cancel().catch(() => {});
    return res.status === 200;
  };
}

export interface HealthCheckerOptions {
  probe: HealthProbe;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes that bring an unhealthy instance back (seed: 2). */
  healthyThreshold: number;
  /** Consecutive failures that take a healthy instance out (seed: 3). */
  unhealthyThreshold: number;
  /** Called on every verdict change. */
  onChange: (instance: ServiceInstance, healthy: boolean) => void;
  clock?: Clock;
}

interface Target {
  instance: ServiceInstance;
  healthy: boolean;
  successes: number;
  failures: number;
  timer: TimerHandle | undefined;
  /** Aborts the probe in flight when the instance goes away or the checker closes. */
  inflight: AbortController | undefined;
  stopped: boolean;
}

/**
 * Active health checks for backends nobody else checks (static discovery;
 * Consul checks its own). One probe per instance at a time, every interval,
 * each bounded by the timeout; instances start healthy and need
 * `unhealthyThreshold` failures in a row to be taken out.
 */
export class HealthChecker {
  private readonly clock: Clock;
  private readonly targets = new Map<string, Target>();
  private closed = false;

  constructor(private readonly opts: HealthCheckerOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  /** Starts probing new instances at once, stops probing removed ones; survivors keep their counts. */
  setInstances(instances: readonly ServiceInstance[]): void {
    if (this.closed) return;
    const keep = new Set<string>();
    for (const instance of instances) {
      keep.add(instance.id);
      const existing = this.targets.get(instance.id);
      if (existing !== undefined) {
        existing.instance = instance;
        continue;
      }
      const target: Target = { instance, healthy: true, successes: 0, failures: 0, timer: undefined, inflight: undefined, stopped: false };
      this.targets.set(instance.id, target);
      this.schedule(target, 0);
    }
    for (const [id, target] of this.targets) {
      if (!keep.has(id)) {
        this.stop(target);
        this.targets.delete(id);
      }
    }
  }

  isHealthy(instanceId: string): boolean | undefined {
    return this.targets.get(instanceId)?.healthy;
  }

  close(): void {
    this.closed = true;
    for (const target of this.targets.values()) this.stop(target);
    this.targets.clear();
  }

  private schedule(target: Target, delayMs: number): void {
    const timer = this.clock.setTimeout(() => void this.probeOnce(target), delayMs);
    timer.unref?.();
    target.timer = timer;
  }

  private async probeOnce(target: Target): Promise<void> {
    target.timer = undefined;
    if (target.stopped) return;
    const startedAt = this.clock.now();
    const controller = new AbortController();
    target.inflight = controller;
    let timedOut = false;
    const timeout = this.clock.setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`health probe timed out after ${this.opts.timeoutMs} ms`));
    }, this.opts.timeoutMs);
    timeout.unref?.();

    let ok: boolean;
    try {
      ok = await Promise.race([this.opts.probe(target.instance, controller.signal), aborted(controller.signal)]);
    } catch {
      ok = false;
    }
    this.clock.clearTimeout(timeout);
    target.inflight = undefined;
    if (target.stopped) return;
    this.record(target, ok && !timedOut);
    const elapsed = this.clock.now() - startedAt;
    this.schedule(target, Math.max(0, this.opts.intervalMs - elapsed));
  }

  private record(target: Target, ok: boolean): void {
    if (ok) {
      target.failures = 0;
      target.successes++;
      if (!target.healthy && target.successes >= this.opts.healthyThreshold) this.flip(target, true);
    } else {
      target.successes = 0;
      target.failures++;
      if (target.healthy && target.failures >= this.opts.unhealthyThreshold) this.flip(target, false);
    }
  }

  private flip(target: Target, healthy: boolean): void {
    target.healthy = healthy;
    target.successes = 0;
    target.failures = 0;
    this.opts.onChange(target.instance, healthy);
  }

  private stop(target: Target): void {
    target.stopped = true;
    if (target.timer !== undefined) this.clock.clearTimeout(target.timer);
    target.timer = undefined;
    target.inflight?.abort(new Error("health checking stopped"));
    target.inflight = undefined;
  }
}

/** Settles false when the signal aborts, so a probe that ignores its signal cannot hang the loop. */
function aborted(signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(false);
    else signal.addEventListener("abort", () => resolve(false), { once: true });
  });
}
