import * as v from "valibot";
import { durationMs } from "./duration.ts";
import { ServiceNameSchema, VersionSchema } from "../discovery/names.ts";
import { LimitSchema } from "./rate-limit.ts";

/** Methods a route may forward (RFC 9110 §9 and PATCH; CONNECT and TRACE are never proxied). */
export const ROUTABLE_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** Paths the gateway answers itself: no route may sit at or under them; a route over one (`/api`) leaves it to the gateway. */
export const RESERVED_PATHS = ["/health", "/metrics", "/admin", "/docs", "/openapi.json", "/api/_gateway"] as const;

const PREFIX_MESSAGE = "must be a path prefix such as /api/users (whole segments; no query, fragment, dot segments or empty segments)";
const SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$/;

/** "/api/users" or "/api/users/" → "/api/users"; undefined when not a prefix of whole segments. */
export function normalisePrefix(prefix: string): string | undefined {
  if (!prefix.startsWith("/")) return undefined;
  const trimmed = prefix.length > 1 && prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  const segments = trimmed.split("/").slice(1);
  if (segments.some((s) => !SEGMENT.test(s) || s === "." || s === "..")) return undefined;
  return trimmed;
}

/** `inner` is `outer` or lies under it, by whole segments. */
export function covers(outer: string, inner: string): boolean {
  return inner === outer || (inner.startsWith(outer) && inner.charCodeAt(outer.length) === 47);
}

const VersionWeight = v.pipe(v.number("must be a weight in 0..1000"), v.integer("must be a weight in 0..1000"), v.minValue(0, "must be a weight in 0..1000"), v.maxValue(1000, "must be a weight in 0..1000"));

/** `{ "1": 90, "2": 10 }`: traffic share per instance version; at least one above 0. */
export const VersionWeightsSchema = v.pipe(
  v.record(VersionSchema, VersionWeight, "must map versions to weights, e.g. { \"1\": 90, \"2\": 10 }"),
  v.check((w) => Object.values(w).some((x) => x > 0), "must give at least one version a weight above 0"),
);

const PolicyName = v.pipe(v.string("must be a name under resilience4j"), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be a name under resilience4j"));

/** One entry of `gateway.routes` (docs/routes.md). */
export const RouteConfigSchema = v.strictObject({
  prefix: v.pipe(
    v.string(PREFIX_MESSAGE),
    v.check((p) => normalisePrefix(p) !== undefined && p !== "/", PREFIX_MESSAGE),
    v.transform((p) => normalisePrefix(p)!),
  ),
  service: ServiceNameSchema,
  /** `/api/users/hello` → `/hello` upstream (`/api/users` → `/`). */
  strip_prefix: v.optional(v.boolean("must be true or false"), false),
  /** The whole request's budget on this route (retries included); sent downstream as the deadline. Default gateway.request_timeout. */
  timeout: v.optional(v.pipe(durationMs("the route's timeout"), v.check((ms) => ms >= 1, "must be at least 1ms"))),
  /** A `resilience4j.retry.instances` entry whose retry policy this route uses (default: the policies' own). */
  retry: v.optional(PolicyName),
  /** The resilience4j instance name for this route's breaker, time limiter, retry (default: the service name, camelCased). */
  policies: v.optional(PolicyName),
  /** Per client on this route, on top of the gateway-wide limit (and the service's own). */
  rate_limit: v.optional(LimitSchema),
  /** Answers may stream long (SSE): never pipelined upstream behind or ahead of others. */
  streamed: v.optional(v.boolean("must be true or false")),
  /** Methods forwarded; others are answered 405 here. Default: a bpm role's own, else every routable method. */
  methods: v.optional(
    v.pipe(
      v.array(v.picklist(ROUTABLE_METHODS, `must be one of ${ROUTABLE_METHODS.join(", ")}`), "must be a list of methods"),
      v.minLength(1, "must name at least one method"),
    ),
  ),
  versions: v.optional(VersionWeightsSchema),
  /** With `versions`: all traffic back to `stable` when another version's error rate exceeds its own by `margin` points. */
  rollback: v.optional(
    v.strictObject({
      /** Default: the version with the largest weight. */
      stable: v.optional(VersionSchema),
      /** Percentage points, e.g. 10: a 15% error rate against the stable version's 4% rolls back. */
      margin: v.pipe(v.number("must be a number of percentage points in 0..100"), v.minValue(0, "must be a number of percentage points in 0..100"), v.maxValue(100, "must be a number of percentage points in 0..100")),
      window: v.optional(v.pipe(durationMs("the rollback window"), v.check((ms) => ms >= 100, "must be at least 100ms")), 30_000),
      min_requests: v.optional(v.pipe(v.number("must be a positive integer"), v.integer("must be a positive integer"), v.minValue(1, "must be a positive integer")), 20),
    }),
  ),
});

export type RouteConfig = v.InferOutput<typeof RouteConfigSchema>;

type Issue = Parameters<Parameters<typeof v.rawCheck<RouteConfig[]>>[0]>[0]["addIssue"];

/** `gateway.routes`: replaces the default table when given; no prefix twice, none over the gateway's own paths. */
export const RoutesSchema = v.pipe(
  v.array(RouteConfigSchema, "must be a list of routes"),
  v.minLength(1, "must hold at least one route (leave it out for the default table)"),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const routes = dataset.value;
    const issue = (i: number, message: string) => {
      const at = [
        { type: "array", origin: "value", input: routes, key: i, value: routes[i] },
        { type: "object", origin: "value", input: routes[i], key: "prefix", value: routes[i]!.prefix },
      ];
      (addIssue as Issue)({ message, input: routes[i]!.prefix, path: at as never });
    };
    const seen = new Map<string, number>();
    for (let i = 0; i < routes.length; i++) {
      const p = routes[i]!.prefix;
      const before = seen.get(p);
      if (before !== undefined) issue(i, `overlaps route ${before} (the same prefix twice)`);
      seen.set(p, i);
      const reserved = RESERVED_PATHS.find((r) => covers(r, p));
      if (reserved !== undefined) issue(i, `overlaps the gateway's own path ${reserved}`);
    }
  }),
);
