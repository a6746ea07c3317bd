import * as v from "valibot";
import { durationMs } from "../config/duration.ts";

/** The `consul:` config section (seed §1.1 plus the knobs discovery and registration need). */
export const ConsulConfigSchema = v.object({
  /** host:port of the local agent; CONSUL_HTTP_ADDR overrides. */
  address: v.pipe(v.string("must be host:port of a Consul agent"), v.minLength(1, "must be host:port of a Consul agent")),
  datacenter: v.pipe(v.string("must be a datacenter name"), v.minLength(1, "must be a datacenter name")),
  token: v.optional(v.string()),
  /** Tags every registration carries (seed: v1, production). */
  tags: v.array(v.string("must be a list of strings")),
  checks: v.object({
    interval: durationMs("the check interval"),
    timeout: durationMs("the check timeout"),
    deregister_critical_service_after: durationMs("a duration"),
  }),
  /** How long one blocking query may wait for a change (Consul caps it at 10m). */
  blocking_wait: durationMs("the blocking query wait"),
  /** Least time between two blocking queries for one service: Consul's docs ask clients to rate-limit. */
  min_query_interval: v.optional(durationMs("the least time between blocking queries"), "100ms"),
  /** Waits after failed calls: exponential from `initial` to `max`, with equal jitter. */
  backoff: v.optional(
    v.object({ initial: durationMs("the first backoff"), max: durationMs("the longest backoff") }),
    { initial: "250ms", max: "10s" },
  ),
  /** How often each registration checks the agent still has it (re-registers when not). */
  anti_entropy_interval: v.optional(durationMs("the anti-entropy interval"), "15s"),
  /** Only discover instances carrying this tag (e.g. "v1"); unset: all passing instances. */
  discovery_tag: v.optional(v.string("must be a tag")),
  /** Weights.Passing our registrations carry; discovery reads it as ServiceInstance.weight (Consul's own default is 1). */
  weight: v.optional(v.pipe(v.number("must be a weight in 1..1000"), v.integer("must be a weight in 1..1000"), v.minValue(1, "must be a weight in 1..1000"), v.maxValue(1000, "must be a weight in 1..1000")), 100),
});

export type ConsulConfig = v.InferOutput<typeof ConsulConfigSchema>;
