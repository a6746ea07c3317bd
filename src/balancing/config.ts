import * as v from "valibot";
import { durationMs } from "../config/duration.ts";
import { ALGORITHMS, type Algorithm } from "./strategy.ts";

/*
 * The `load_balancer` config section (seed 000 §5.1, plus outlier detection,
 * load back-off and EWMA tuning). Every field is optional in YAML; defaults live
 * in LOAD_BALANCER_DEFAULTS so that per-service overrides can say "unset".
 */

const positiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));

const healthCheckSchema = v.strictObject({
  enabled: v.optional(v.boolean()),
  interval: v.optional(durationMs()),
  timeout: v.optional(durationMs()),
  healthy_threshold: v.optional(positiveInt),
  unhealthy_threshold: v.optional(positiveInt),
  path: v.optional(v.pipe(v.string(), v.startsWith("/", 'expected a path starting with "/"'))),
});

const stickySessionsSchema = v.strictObject({
  enabled: v.optional(v.boolean()),
  cookie_name: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]+$/, "expected a cookie name of letters, digits, _ or -"))),
});

const outlierDetectionSchema = v.strictObject({
  enabled: v.optional(v.boolean()),
  consecutive_errors: v.optional(positiveInt),
  base_ejection_time: v.optional(durationMs()),
  max_ejection_time: v.optional(durationMs()),
  max_ejection_percent: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(100))),
});

const loadBackoffSchema = v.strictObject({
  /** Back-off after a 429 / RESOURCE_EXHAUSTED that carried no Retry-After. */
  default: v.optional(durationMs()),
  /** Cap on an instance's Retry-After, so one reply cannot bench it for long. */
  max: v.optional(durationMs()),
});

const ewmaSchema = v.strictObject({
  /** Time constant τ of the latency average. */
  decay: v.optional(durationMs()),
  /** Starting estimate when no instance has been measured yet. */
  default_rtt: v.optional(durationMs()),
});

const backendSchema = v.strictObject({
  /** Instance id, or "address:port". */
  name: v.pipe(v.string(), v.minLength(1)),
  weight: v.optional(positiveInt),
  max_connections: v.optional(positiveInt),
});

const policyEntries = {
  algorithm: v.optional(v.picklist(ALGORITHMS, `expected one of ${ALGORITHMS.join(", ")}`)),
  health_check: v.optional(healthCheckSchema),
  sticky_sessions: v.optional(stickySessionsSchema),
  outlier_detection: v.optional(outlierDetectionSchema),
  load_backoff: v.optional(loadBackoffSchema),
  ewma: v.optional(ewmaSchema),
  /** Default in-flight cap per backend; unlimited when unset. */
  max_connections: v.optional(positiveInt),
  backends: v.optional(v.array(backendSchema)),
};

export const loadBalancerServiceSchema = v.strictObject(policyEntries);

export const loadBalancerSchema = v.strictObject({
  ...policyEntries,
  /** Per-service overrides, merged field by field over the section above. */
  services: v.optional(v.record(v.string(), loadBalancerServiceSchema)),
});

export type LoadBalancerConfigInput = v.InferInput<typeof loadBalancerSchema>;
export type LoadBalancerConfig = v.InferOutput<typeof loadBalancerSchema>;
export type LoadBalancerServiceConfig = v.InferOutput<typeof loadBalancerServiceSchema>;

export interface BackendOverride {
  weight?: number;
  maxConnections?: number;
}

/** Fully resolved options for one service's balancer; units in the names. */
export interface BalancerOptions {
  algorithm: Algorithm;
  healthCheck: {
    enabled: boolean;
    intervalMs: number;
    timeoutMs: number;
    healthyThreshold: number;
    unhealthyThreshold: number;
    path: string;
  };
  sticky: { enabled: boolean; cookieName: string };
  outlier: {
    enabled: boolean;
    consecutiveErrors: number;
    baseEjectionTimeMs: number;
    maxEjectionTimeMs: number;
    maxEjectionPercent: number;
  };
  loadBackoff: { defaultMs: number; maxMs: number };
  ewma: { decayMs: number; defaultRttMs: number };
  /** Per-backend in-flight cap; Infinity = unlimited. */
  maxConnections: number;
  /** Keyed by instance id or "address:port". */
  backends: ReadonlyMap<string, BackendOverride>;
}

export const LOAD_BALANCER_DEFAULTS: BalancerOptions = {
  algorithm: "round_robin", // the seed's choice; p2c_ewma is the better one for uneven latency
  healthCheck: { enabled: true, intervalMs: 10_000, timeoutMs: 5_000, healthyThreshold: 2, unhealthyThreshold: 3, path: "/health" },
  sticky: { enabled: false, cookieName: "SERVERID" },
  outlier: { enabled: true, consecutiveErrors: 5, baseEjectionTimeMs: 30_000, maxEjectionTimeMs: 300_000, maxEjectionPercent: 50 },
  loadBackoff: { defaultMs: 1_000, maxMs: 30_000 },
  ewma: { decayMs: 10_000, defaultRttMs: 30 },
  maxConnections: Infinity,
  backends: new Map(),
};

/** Parses the raw `load_balancer` section; throws ValiError naming the bad path. */
export function parseLoadBalancerConfig(input: unknown): LoadBalancerConfig {
  return v.parse(loadBalancerSchema, input ?? {});
}

/** Defaults ← section ← services[service], field by field; backends accumulate (later wins). */
export function balancerOptionsFor(config: LoadBalancerConfig | undefined, service: string): BalancerOptions {
  const d = LOAD_BALANCER_DEFAULTS;
  const layers: LoadBalancerServiceConfig[] = [];
  if (config) layers.push(config);
  const own = config?.services?.[service];
  if (own) layers.push(own);

  const pickLast = <T>(get: (l: LoadBalancerServiceConfig) => T | undefined, fallback: T): T => {
    let value = fallback;
    for (const l of layers) {
      const x = get(l);
      if (x !== undefined) value = x;
    }
    return value;
  };

  const backends = new Map<string, BackendOverride>();
  for (const l of layers) {
    for (const b of l.backends ?? []) {
      const o: BackendOverride = {};
      if (b.weight !== undefined) o.weight = b.weight;
      if (b.max_connections !== undefined) o.maxConnections = b.max_connections;
      backends.set(b.name, o);
    }
  }

  return {
    algorithm: pickLast((l) => l.algorithm, d.algorithm),
    healthCheck: {
      enabled: pickLast((l) => l.health_check?.enabled, d.healthCheck.enabled),
      intervalMs: pickLast((l) => l.health_check?.interval, d.healthCheck.intervalMs),
      timeoutMs: pickLast((l) => l.health_check?.timeout, d.healthCheck.timeoutMs),
      healthyThreshold: pickLast((l) => l.health_check?.healthy_threshold, d.healthCheck.healthyThreshold),
      unhealthyThreshold: pickLast((l) => l.health_check?.unhealthy_threshold, d.healthCheck.unhealthyThreshold),
      path: pickLast((l) => l.health_check?.path, d.healthCheck.path),
    },
    sticky: {
      enabled: pickLast((l) => l.sticky_sessions?.enabled, d.sticky.enabled),
      cookieName: pickLast((l) => l.sticky_sessions?.cookie_name, d.sticky.cookieName),
    },
    outlier: {
      enabled: pickLast((l) => l.outlier_detection?.enabled, d.outlier.enabled),
      consecutiveErrors: pickLast((l) => l.outlier_detection?.consecutive_errors, d.outlier.consecutiveErrors),
      baseEjectionTimeMs: pickLast((l) => l.outlier_detection?.base_ejection_time, d.outlier.baseEjectionTimeMs),
      maxEjectionTimeMs: pickLast((l) => l.outlier_detection?.max_ejection_time, d.outlier.maxEjectionTimeMs),
      maxEjectionPercent: pickLast((l) => l.outlier_detection?.max_ejection_percent, d.outlier.maxEjectionPercent),
    },
    loadBackoff: {
      defaultMs: pickLast((l) => l.load_backoff?.default, d.loadBackoff.defaultMs),
      maxMs: pickLast((l) => l.load_backoff?.max, d.loadBackoff.maxMs),
    },
    ewma: {
      decayMs: Math.max(1, pickLast((l) => l.ewma?.decay, d.ewma.decayMs)),
      defaultRttMs: pickLast((l) => l.ewma?.default_rtt, d.ewma.defaultRttMs),
    },
    maxConnections: pickLast((l) => l.max_connections, d.maxConnections),
    backends,
  };
}
