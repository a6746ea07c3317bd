import { UsageError } from "../../config/loader.ts";
import type { Config } from "../../config/schema.ts";
import { type Rollback, VersionRollback } from "../../balancing/version-rollback.ts";
import { VersionSplit } from "../../balancing/version-split.ts";
import { type Clock, systemClock } from "../../platform/clock.ts";
import { instanceName } from "../../resilience/instance-name.ts";
import { covers, RESERVED_PATHS, ROUTABLE_METHODS, type RouteConfig } from "../../config/gateway-routes.ts";

/** A per-route rate limit: requests per window per client. */
export type RouteRateLimit = NonNullable<RouteConfig["rate_limit"]>;

/** One entry of the gateway's route table (docs/routes.md). */
export interface GatewayRoute {
  /** Whole segments, no trailing slash; the longest matching prefix wins. */
  prefix: string;
  /** Any service discovery knows (static or Consul), bpm role or not. */
  service: string;
  /** Breaker / time limiter / retry instance name in resilience4j config. */
  downstream: string;
  /** A `resilience4j.retry.instances` entry used instead of the downstream's own retry. */
  retry: string | undefined;
  /** Methods forwarded under this prefix; any other is answered by the gateway (405), never forwarded. */
  methods: readonly string[];
  /** A bpm role: its API table names each path's methods (for `Allow`) and its event streams. */
  bpm: boolean;
  /** `/api/users/hello` → `/hello` upstream. */
  stripPrefix: boolean;
  /** The whole request's budget on this route; undefined: gateway.request_timeout. */
  timeoutMs: number | undefined;
  rateLimit: RouteRateLimit | undefined;
  /** Every answer may stream long: never pipelined upstream. */
  streamed: boolean;
  /** Traffic share by instance version, when the route sets `versions`. */
  split: VersionSplit | undefined;
  /** Watches the split's versions and rolls back to the stable one (`rollback`). */
  rollback: VersionRollback | undefined;
  /** The gateway's own paths under this prefix (`/api` → `/api/_gateway`): never routed. */
  reserved: readonly string[];
}

/** The methods each bpm role serves under its prefix (its API table; 405 for the rest). */
const BPM_METHODS: Readonly<Record<string, readonly string[]>> = {
  "task-service": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
  "form-service": ["GET", "HEAD", "POST"],
  "process-service": ["GET", "HEAD", "POST"],
};

/** The default table: bpm's public REST prefixes and the role that serves each (DESIGN.md "REST through the gateway"). */
export const DEFAULT_ROUTES: readonly RouteConfig[] = [
  { prefix: "/api/tasks", service: "task-service", strip_prefix: false },
  { prefix: "/api/forms", service: "form-service", strip_prefix: false },
  { prefix: "/api/processes", service: "process-service", strip_prefix: false },
];

/**
 * The route table from `gateway.routes` (or the default), with the names it uses checked
 * against the rest of the config: a retry policy that is not configured is a config error.
 */
export function buildRoutes(
  configured: readonly RouteConfig[] | undefined,
  resilience?: Config["resilience4j"],
  opts: { clock?: Clock; onRollback?: (route: GatewayRoute, r: Rollback) => void } = {},
): GatewayRoute[] {
  const given = configured ?? DEFAULT_ROUTES;
  return given.map((r, i) => {
    if (r.retry !== undefined && resilience?.retry?.instances?.[r.retry] === undefined) {
      throw new UsageError(`config: gateway.routes.${i}.retry must name an entry under resilience4j.retry.instances, got ${JSON.stringify(r.retry)}`);
    }
    if (r.rollback !== undefined && r.versions === undefined) throw new UsageError(`config: gateway.routes.${i}.rollback needs versions on the same route`);
    const stable = r.rollback?.stable ?? (r.versions ? Object.entries(r.versions).sort((a, b) => b[1] - a[1])[0]![0] : undefined);
    if (r.rollback !== undefined && r.versions?.[stable!] === undefined) {
      throw new UsageError(`config: gateway.routes.${i}.rollback.stable must be one of the route's versions, got ${JSON.stringify(stable)}`);
    }
    const own = BPM_METHODS[r.service];
    let methods: readonly string[];
    if (r.methods !== undefined) methods = r.methods.includes("GET") && !r.methods.includes("HEAD") ? [...r.methods, "HEAD"] : [...new Set(r.methods)];
    else methods = own ?? ROUTABLE_METHODS;
    const split = r.versions !== undefined ? new VersionSplit(r.versions) : undefined;
    const route: GatewayRoute = {
      prefix: r.prefix,
      service: r.service,
      downstream: instanceName(r.policies ?? r.service),
      retry: r.retry,
      methods,
      bpm: own !== undefined,
      stripPrefix: r.strip_prefix,
      timeoutMs: r.timeout,
      rateLimit: r.rate_limit,
      streamed: r.streamed ?? false,
      split,
      rollback: undefined,
      reserved: RESERVED_PATHS.filter((p) => covers(r.prefix, p)),
    };
    const rb = r.rollback;
    if (rb !== undefined && split !== undefined) {
      const policy = { stable: stable!, marginPercent: rb.margin, windowMs: rb.window, minRequests: rb.min_requests };
      route.rollback = new VersionRollback(policy, split, opts.clock ?? systemClock, (x) => opts.onRollback?.(route, x));
    }
    return route;
  });
}

/** The routes by prefix, the longest first, so the first match is the longest. */
export class RouteTable {
  readonly routes: readonly GatewayRoute[];
  private readonly byLength: readonly GatewayRoute[];

  constructor(routes: readonly GatewayRoute[]) {
    this.routes = routes;
    this.byLength = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** The route for a path, matching whole segments (`/api/tasksX` is not `/api/tasks`); the longest prefix wins. */
  match(pathname: string): GatewayRoute | undefined {
    for (const r of this.byLength) {
      if (pathname.startsWith(r.prefix) && (pathname.length === r.prefix.length || pathname.charCodeAt(r.prefix.length) === 47)) {
        return r.reserved.length > 0 && r.reserved.some((p) => covers(p, pathname)) ? undefined : r;
      }
    }
    return undefined;
  }

  /** Each routed service once, in table order. */
  services(): string[] {
    return [...new Set(this.routes.map((r) => r.service))];
  }

  /** The route with this prefix (as configured, trailing slash or not). */
  byPrefix(prefix: string): GatewayRoute | undefined {
    const p = prefix.length > 1 && prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
    return this.routes.find((r) => r.prefix === p);
  }
}

/** The default table, built once. */
export const ROUTES: readonly GatewayRoute[] = buildRoutes(undefined);
const DEFAULT_TABLE = new RouteTable(ROUTES);

/** The default table's route for a path. */
export function matchRoute(pathname: string, table: RouteTable = DEFAULT_TABLE): GatewayRoute | undefined {
  return table.match(pathname);
}

/** The path the upstream sees: the prefix taken off when the route strips it (`/api/users` → `/`). */
export function upstreamPath(route: GatewayRoute, pathname: string): string {
  if (!route.stripPrefix) return pathname;
  const rest = pathname.slice(route.prefix.length);
  return rest === "" ? "/" : rest;
}

/** A bounded label for metrics: the prefix plus `/:id` or `/stream`, never raw ids (at most three segments). */
export function routeTemplate(route: GatewayRoute, pathname: string): string {
  const p = route.prefix.length;
  if (pathname.length <= p + 1) return route.prefix;
  // the common `/api/tasks/7`: one segment, not a word → no split, no regex, no array
  let out = route.prefix;
  let segments = 0;
  let start = p;
  while (start < pathname.length && segments < 3) {
    while (start < pathname.length && pathname.charCodeAt(start) === 47) start++;
    if (start >= pathname.length) break;
    let end = start;
    let word = true;
    for (; end < pathname.length; end++) {
      const c = pathname.charCodeAt(end);
      if (c === 47) break;
      if (!((c >= 97 && c <= 122) || c === 95)) word = false;
    }
    out += word ? `/${pathname.slice(start, end)}` : "/:id";
    segments++;
    start = end;
  }
  return out;
}
