import * as v from "valibot";
import { durationMs } from "./duration.ts";
import { RoutesSchema } from "./gateway-routes.ts";
import { RateLimitConfigSchema } from "./rate-limit.ts";

export { type RateLimitConfig, RateLimitConfigSchema } from "./rate-limit.ts";

/** The `gateway` config section (seed 004 §6). Token verification is the top-level `auth` section. */
export const GatewayConfigSchema = v.object({
  /** The route table (docs/routes.md); without it, the bpm roles' default table. */
  routes: v.optional(RoutesSchema),
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
