import { Elysia } from "elysia";
import type { ServiceBalancers } from "../../balancing/service-balancers.ts";
import type { Identity } from "../../platform/auth.ts";
import type { Downstreams } from "../../transport/downstreams.ts";
import { ROUTES } from "./routes.ts";

interface Deps {
  balancers: ServiceBalancers;
  downstreams: Downstreams;
  authenticate: (authorization: string | null) => Promise<Identity | undefined>;
}

/** GET /api/_gateway/services: the seed's status shape, plus each instance's health, ejection and breaker. */
export function adminRoutes({ balancers, downstreams, authenticate }: Deps) {
  return new Elysia({ name: "gateway-admin" }).get("/api/_gateway/services", async ({ request }) => {
    await authenticate(request.headers.get("authorization"));
    const snap = balancers.snapshot();
    const services: Record<string, unknown> = {};
    for (const r of ROUTES) {
      const s = snap[r.service];
      const breaker = downstreams.get(r.downstream).breaker.metrics();
      const instances = s?.instances ?? [];
      services[r.service] = {
        healthy: (s?.healthy ?? false) && breaker.state !== "OPEN" && breaker.state !== "FORCED_OPEN",
        instances: instances.length,
        breaker: { name: r.downstream, state: breaker.state, failureRate: breaker.failureRate, notPermitted: breaker.notPermitted },
        endpoints: instances,
      };
    }
    return { gateway: "healthy", services, timestamp: new Date().toISOString() };
  });
}
