import * as v from "valibot";
import { durationMs } from "../../config/duration.ts";
import type { Clock } from "../../platform/clock.ts";
import { RATE_ALGORITHMS } from "../../resilience/rate-algorithms/index.ts";
import { type RateLimitDecision, RateLimiter } from "../../resilience/rate-limiter.ts";

const positiveInt = (what: string) => v.pipe(v.number(`must be ${what}`), v.integer(`must be ${what}`), v.minValue(1, `must be ${what}`));
const ALGORITHM = v.picklist(RATE_ALGORITHMS, `must be one of ${RATE_ALGORITHMS.join(", ")}`);
/** Services the gateway routes to (a limit for any other name would never apply). */
const ROUTED_SERVICES = ["task-service", "form-service", "process-service"] as const;

const LimitSchema = v.strictObject({
  requests: positiveInt("a positive number of requests"),
  window: v.pipe(durationMs("the rate-limit window"), v.check((ms) => ms >= 1, "must be a window of at least 1ms")),
  algorithm: v.optional(ALGORITHM),
});

/**
 * `gateway.rate_limit`: `requests` per `window` per client (token `sub`, else client IP),
 * counted by `algorithm` (default fixed_window: the window starts at the key's first request,
 * as rate-limiter-flexible's points/duration). `services` adds a limit per routed service,
 * counted per client on top of the gateway-wide one.
 */
export const RateLimitConfigSchema = v.strictObject({
  enabled: v.optional(v.boolean("must be true or false"), true),
  requests: positiveInt("a positive number of requests"),
  window: v.pipe(durationMs("the rate-limit window"), v.check((ms) => ms >= 1, "must be a window of at least 1ms")),
  algorithm: v.optional(ALGORITHM, "fixed_window"),
  max_keys: v.optional(positiveInt("a positive number of keys"), 1_000_000),
  services: v.optional(v.record(v.picklist(ROUTED_SERVICES, `must name a routed service (${ROUTED_SERVICES.join(", ")})`), LimitSchema), {}),
});

export type RateLimitConfig = v.InferOutput<typeof RateLimitConfigSchema>;

/** The gateway's limits: one for every request, and one per service that configures its own. */
export class GatewayRateLimits {
  readonly global: RateLimiter;
  private readonly perService = new Map<string, RateLimiter>();

  constructor(config: RateLimitConfig, clock?: Clock) {
    const common = { maxKeys: config.max_keys, ...(clock ? { clock } : {}) };
    this.global = new RateLimiter({ ...common, name: "gateway", algorithm: config.algorithm, limitForPeriod: config.requests, limitRefreshPeriod: config.window });
    for (const [service, limit] of Object.entries(config.services)) {
      this.perService.set(service, new RateLimiter({
        ...common, name: `gateway:${service}`, algorithm: limit.algorithm ?? config.algorithm, limitForPeriod: limit.requests, limitRefreshPeriod: limit.window,
      }));
    }
  }

  limiters(): RateLimiter[] {
    return [this.global, ...this.perService.values()];
  }

  /**
   * Charges `key` to the gateway-wide limit, then to `service`'s own. The refusal, or else the
   * decision with the fewest requests left, is what the response's headers show.
   */
  check(key: string, service: string | undefined): RateLimitDecision {
    const decision = this.global.check(key);
    if (!decision.allowed || service === undefined || this.perService.size === 0) return decision;
    const own = this.perService.get(service);
    if (own === undefined) return decision;
    const serviceDecision = own.check(key);
    return !serviceDecision.allowed || serviceDecision.remaining < decision.remaining ? serviceDecision : decision;
  }
}
