import * as v from "valibot";
import { ServiceNameSchema } from "../discovery/names.ts";
import { RATE_ALGORITHMS } from "../resilience/rate-algorithms/index.ts";
import { durationMs } from "./duration.ts";

const positiveInt = (what: string) => v.pipe(v.number(`must be ${what}`), v.integer(`must be ${what}`), v.minValue(1, `must be ${what}`));
const ALGORITHM = v.picklist(RATE_ALGORITHMS, `must be one of ${RATE_ALGORITHMS.join(", ")}`);

export const LimitSchema = v.strictObject({
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
  /** Keyed by service name; the gateway refuses at start a name no route serves (the limit would never apply). */
  services: v.optional(v.record(ServiceNameSchema, LimitSchema), {}),
  /**
   * One limit across gateway replicas: `postgres` counts fixed windows in the shared database
   * (DATABASE_URL), synced every `sync_interval`; `auto` does so when DATABASE_URL is set and
   * every limit is a fixed_window; `off` counts per replica.
   */
  shared: v.optional(v.picklist(["auto", "postgres", "off"], "must be auto, postgres or off"), "auto"),
  sync_interval: v.optional(v.pipe(durationMs("the sync interval"), v.check((ms) => ms >= 1, "must be at least 1ms")), 100),
});

export type RateLimitConfig = v.InferOutput<typeof RateLimitConfigSchema>;
