import * as v from "valibot";
import { RATE_ALGORITHMS } from "../resilience/rate-algorithms/index.ts";
import { durationMs } from "./duration.ts";

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
  /**
   * One limit across gateway replicas: `postgres` counts fixed windows in the shared database
   * (DATABASE_URL), synced every `sync_interval`; `auto` does so when DATABASE_URL is set and
   * every limit is a fixed_window; `off` counts per replica.
   */
  shared: v.optional(v.picklist(["auto", "postgres", "off"], "must be auto, postgres or off"), "auto"),
  sync_interval: v.optional(v.pipe(durationMs("the sync interval"), v.check((ms) => ms >= 1, "must be at least 1ms")), 100),
});

export type RateLimitConfig = v.InferOutput<typeof RateLimitConfigSchema>;


/** The `gateway` config section (seed 004 §6). Token verification is the top-level `auth` section. */
export const GatewayConfigSchema = v.object({
  rate_limit: v.optional(RateLimitConfigSchema, { requests: 100, window: "60s" }),
  /** Whole-request budget; also sent downstream as the deadline. */
  request_timeout: v.optional(durationMs("the request timeout"), 30_000),
  access_log: v.optional(v.boolean("must be true or false"), true),
  /**
   * How the gateway talks HTTP to instances: bpm's pooled keep-alive HTTP/1.1 client, the only one
   * (docs/http-transport.md). The key stays so configs that name it keep working; `fetch` is refused.
   */
  upstream_client: v.optional(v.picklist(["pool"], "must be pool (the fetch() client was removed: the gateway has one request path)"), "pool"),
  /**
   * With the pool: GET/HEAD requests in flight per upstream connection (HTTP/1.1 pipelining,
   * docs/http-transport.md "Pipelining"); 1 sends one request at a time.
   */
  upstream_pipeline_depth: v.optional(v.pipe(v.number("must be an integer from 1 to 64"), v.integer("must be an integer from 1 to 64"), v.minValue(1, "must be an integer from 1 to 64"), v.maxValue(64, "must be an integer from 1 to 64")), 8),
  /**
   * What accepts client connections: bpm's HTTP/1.1 server on Bun.listen, the only front
   * (docs/http-transport.md "Raw front"). The key stays so configs that name it keep working; `bun` is refused.
   */
  front: v.optional(v.picklist(["raw"], "must be raw (the Bun.serve front was removed: the gateway has one request path)"), "raw"),
  /** A request head must arrive whole within this of its first byte, else 408 and close (nginx client_header_timeout). */
  client_header_timeout: v.optional(durationMs("the client header timeout"), 60_000),
  /** Most time between two reads of a request body, else 408 and close (nginx client_body_timeout). */
  client_body_timeout: v.optional(durationMs("the client body timeout"), 60_000),
  /** An idle keep-alive client connection is closed after this (nginx keepalive_timeout). */
  keepalive_timeout: v.optional(durationMs("the keep-alive timeout"), 75_000),
});

export type GatewayConfig = v.InferOutput<typeof GatewayConfigSchema>;
