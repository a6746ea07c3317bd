import { Elysia } from "elysia";
import * as v from "valibot";
import type { AdminGuard } from "../../platform/admin.ts";
import { NotFoundError, ValidationError } from "../../platform/errors.ts";
import { parseInput } from "../../platform/http.ts";
import type { Logger } from "../../platform/logger.ts";
import { VersionWeightsSchema } from "../../config/gateway-routes.ts";
import type { GatewayRoute, RouteTable } from "./routes.ts";

export const VersionsChangeSchema = v.object({
  prefix: v.string("must be a route's prefix"),
  versions: VersionWeightsSchema,
});

/** One route as the operator sees it. */
export function routeView(r: GatewayRoute) {
  return {
    prefix: r.prefix,
    service: r.service,
    strip_prefix: r.stripPrefix,
    methods: r.methods,
    timeout_ms: r.timeoutMs ?? null,
    policies: r.downstream,
    retry: r.retry ?? null,
    rate_limit: r.rateLimit ?? null,
    streamed: r.streamed,
    versions: r.split?.all ?? null,
    rollback: r.rollback !== undefined ? { ...r.rollback.policy, last: r.rollback.last ?? null } : null,
  };
}

/**
 * The route table at runtime (admin token): `GET /admin/routes` lists it, `PUT
 * /admin/routes/versions` replaces one route's version weights (canary steps, the blue-green
 * switch). The change lives until restart; the config file is what a restart reads.
 */
export function routesAdmin(table: RouteTable, guard: AdminGuard, log: Logger) {
  return new Elysia({ name: "routes-admin" })
    .get("/admin/routes", async ({ request }) => {
      await guard(request.headers.get("authorization"));
      return { routes: table.routes.map(routeView) };
    })
    .put("/admin/routes/versions", async ({ request, body }) => {
      await guard(request.headers.get("authorization"));
      const change = parseInput(VersionsChangeSchema, body ?? {}, "version weights");
      const route = table.byPrefix(change.prefix);
      if (route === undefined) throw new NotFoundError(`no route with prefix ${JSON.stringify(change.prefix.slice(0, 200))}`);
      if (route.split === undefined) throw new ValidationError(`route ${route.prefix} does not split by version (set its versions in gateway.routes)`);
      const before = route.split.all;
      route.split.set(change.versions);
      route.rollback?.reset();
      log.info("route version weights changed", { prefix: route.prefix, service: route.service, before, after: route.split.all });
      return routeView(route);
    });
}
