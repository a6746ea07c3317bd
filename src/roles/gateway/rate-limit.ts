import type * as v from "valibot";
import type { LimitSchema, RateLimitConfig } from "../../config/rate-limit.ts";
export type { RateLimitConfig };
import type { Clock } from "../../platform/clock.ts";
import { ClusterFixedWindow, type WindowCounterStore } from "../../resilience/cluster-window.ts";
import { type RateLimitDecision, RateLimiter } from "../../resilience/rate-limiter.ts";
import type { Emitter } from "../../resilience/emitter.ts";

/** A keyed limit the gateway charges requests to: local (RateLimiter) or shared (ClusterFixedWindow). */
export interface KeyedLimit {
  readonly name: string;
  readonly onRejected: Emitter<{ name: string; key: string; retryAfterMs: number }>;
  check(key: string): RateLimitDecision;
}

/** Whether the limits are counted across replicas, or why they cannot be (a config error's text). */
export function sharedMode(config: RateLimitConfig, databaseUrl: string | undefined, routeLimits: readonly RouteLimit[] = []): "postgres" | "off" | { error: string } {
  const allFixed =
    config.algorithm === "fixed_window" &&
    Object.values(config.services).every((s) => (s.algorithm ?? config.algorithm) === "fixed_window") &&
    routeLimits.every((r) => (r.limit.algorithm ?? config.algorithm) === "fixed_window");
  if (config.shared === "off") return "off";
  if (config.shared === "auto") return databaseUrl !== undefined && allFixed ? "postgres" : "off";
  if (databaseUrl === undefined) return { error: "config: gateway.rate_limit.shared is postgres, which needs DATABASE_URL (storage.database_url)" };
  if (!allFixed) return { error: "config: gateway.rate_limit.shared: postgres counts fixed_window limits only; set algorithm: fixed_window (and on every service and route) or shared: off" };
  return "postgres";
}

/** A route's own limit (gateway.routes[].rate_limit), keyed by its prefix. */
export interface RouteLimit {
  prefix: string;
  limit: v.InferOutput<typeof LimitSchema>;
}

/** The gateway's limits: one for every request, and one per service that configures its own. */
export class GatewayRateLimits {
  readonly global: KeyedLimit;
  private readonly perService = new Map<string, KeyedLimit>();
  private readonly perRoute = new Map<string, KeyedLimit>();
  /** The shared windows, when counted across replicas. */
  readonly shared: ClusterFixedWindow[] = [];

  /** With `store`, every limit is a fixed window counted across replicas through it. */
  constructor(config: RateLimitConfig, options: { clock?: Clock; store?: WindowCounterStore; routes?: readonly RouteLimit[] } = {}) {
    const { clock, store } = options;
    const make = (name: string, algorithm: RateLimitConfig["algorithm"], requests: number, window: number): KeyedLimit => {
      if (store === undefined) {
        return new RateLimiter({ maxKeys: config.max_keys, ...(clock ? { clock } : {}), name, algorithm, limitForPeriod: requests, limitRefreshPeriod: window });
      }
      const shared = new ClusterFixedWindow({ name, limit: requests, windowMs: window, store, maxKeys: config.max_keys, ...(clock ? { clock } : {}) });
      this.shared.push(shared);
      return shared;
    };
    this.global = make("gateway", config.algorithm, config.requests, config.window);
    for (const [service, limit] of Object.entries(config.services)) {
      this.perService.set(service, make(`gateway:${service}`, limit.algorithm ?? config.algorithm, limit.requests, limit.window));
    }
    for (const { prefix, limit } of options.routes ?? []) {
      this.perRoute.set(prefix, make(`gateway:route:${prefix}`, limit.algorithm ?? config.algorithm, limit.requests, limit.window));
    }
  }

  limiters(): KeyedLimit[] {
    return [this.global, ...this.perService.values(), ...this.perRoute.values()];
  }

  /** Syncs every shared window with the store (a no-op when counting locally). */
  async sync(): Promise<void> {
    await Promise.all(this.shared.map((w) => w.sync()));
  }

  /**
   * Charges `key` to the gateway-wide limit, then to `service`'s own, then to the route's
   * (by `prefix`). The first refusal, or else the decision with the fewest requests left, is
   * what the response's headers show.
   */
  check(key: string, service: string | undefined, prefix?: string): RateLimitDecision {
    let decision = this.global.check(key);
    if (!decision.allowed) return decision;
    if (service !== undefined && this.perService.size > 0) decision = tighter(decision, this.perService.get(service), key);
    if (!decision.allowed) return decision;
    if (prefix !== undefined && this.perRoute.size > 0) decision = tighter(decision, this.perRoute.get(prefix), key);
    return decision;
  }
}

/** `limit`'s decision for `key` when it refuses or leaves fewer requests than `decision`, else `decision`. */
function tighter(decision: RateLimitDecision, limit: KeyedLimit | undefined, key: string): RateLimitDecision {
  if (limit === undefined) return decision;
  const own = limit.check(key);
  return !own.allowed || own.remaining < decision.remaining ? own : decision;
}
