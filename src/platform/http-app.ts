import { FaultInjector } from "./faults.ts";
import { createHttpApp } from "./http.ts";
import type { RoleAuth } from "./role-auth.ts";
import type { RoleContext } from "./role.ts";

/** The standard HTTP app for a role's context (health, metrics, errors, credentials, faults when enabled). */
export function roleHttpApp(ctx: RoleContext, auth: RoleAuth, metricsJson?: () => Promise<unknown>) {
  return createHttpApp({
    role: ctx.role,
    log: ctx.log,
    metrics: ctx.metrics,
    health: ctx.health,
    lifecycle: ctx.lifecycle,
    bodyLimitBytes: ctx.config.http.body_limit_bytes,
    faults: ctx.config.fault_injection.enabled ? new FaultInjector() : undefined,
    authenticate: auth.authenticate,
    metricsJson,
  });
}
