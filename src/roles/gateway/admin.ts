import { Elysia } from "elysia";
import * as v from "valibot";
import type { ServiceBalancers } from "../../balancing/service-balancers.ts";
import type { Identity } from "../../platform/auth.ts";
import type { Downstreams } from "../../transport/downstreams.ts";
import type { RouteTable } from "./routes.ts";

interface Deps {
  balancers: ServiceBalancers;
  downstreams: Downstreams;
  table: RouteTable;
  authenticate: (authorization: string | null) => Promise<Identity | undefined>;
}

/** The seed's status shape `{gateway, services, timestamp}`, each service with its instances' health, ejection and breaker. */
export const GatewayStatusSchema = v.object({
  gateway: v.string(),
  services: v.record(
    v.string(),
    v.object({
      healthy: v.boolean(),
      instances: v.pipe(v.number(), v.integer()),
      breaker: v.object({ name: v.string(), state: v.string(), failureRate: v.number(), notPermitted: v.number() }),
      endpoints: v.array(v.looseObject({})),
    }),
  ),
  timestamp: v.pipe(v.string(), v.isoTimestamp()),
});

/** The gateway's view of the services it routes to, now. */
export function gatewayStatus({ balancers, downstreams, table }: Omit<Deps, "authenticate">): v.InferOutput<typeof GatewayStatusSchema> {
  const snap = balancers.snapshot();
  const services: v.InferOutput<typeof GatewayStatusSchema>["services"] = {};
  for (const r of table.routes) {
    if (services[r.service] !== undefined) continue;
    const s = snap[r.service];
    const breaker = downstreams.get(r.downstream).breaker.metrics();
    const instances = s?.instances ?? [];
    services[r.service] = {
      healthy: (s?.healthy ?? false) && breaker.state !== "OPEN" && breaker.state !== "FORCED_OPEN",
      instances: instances.length,
      breaker: { name: r.downstream, state: breaker.state, failureRate: breaker.failureRate, notPermitted: breaker.notPermitted },
      endpoints: instances as unknown as Record<string, unknown>[],
    };
  }
  return { gateway: "healthy", services, timestamp: new Date().toISOString() };
}

/** GET /api/_gateway/services: the gateway's status (a signed-in user's view). */
export function adminRoutes(deps: Deps) {
  return new Elysia({ name: "gateway-admin" }).get("/api/_gateway/services", async ({ request }) => {
    await deps.authenticate(request.headers.get("authorization"));
    return gatewayStatus(deps);
  });
}
