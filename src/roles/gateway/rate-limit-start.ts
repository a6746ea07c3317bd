import { UsageError } from "../../config/loader.ts";
import { up } from "../../platform/health.ts";
import type { RoleContext } from "../../platform/role.ts";
import { openPostgres } from "../../storage/postgres.ts";
import { PostgresWindowCounters, RATE_LIMIT_MIGRATIONS } from "../../storage/postgres-rate-limits.ts";
import { GatewayRateLimits, type RateLimitConfig, type RouteLimit, sharedMode } from "./rate-limit.ts";

// Apart from rate-limit.ts, which the config schema imports: starting the limits needs the role's context.

/**
 * The gateway's limits as configured: local, or shared through PostgreSQL with a sync loop
 * (stopped, and a last sync sent, at shutdown). A shared limit's syncs show on /health.
 */
export async function startRateLimits(config: RateLimitConfig, ctx: RoleContext, routes: readonly RouteLimit[] = []): Promise<GatewayRateLimits> {
  const mode = sharedMode(config, ctx.config.storage.database_url, routes);
  if (typeof mode === "object") throw new UsageError(mode.error);
  if (mode === "off") return new GatewayRateLimits(config, { routes });
  const db = await openPostgres(ctx.config.storage.database_url!, { name: "bpm-gateway", migrations: [RATE_LIMIT_MIGRATIONS], maxConnections: 2, log: ctx.log });
  const limits = new GatewayRateLimits(config, { store: new PostgresWindowCounters(db.sql), routes });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  let lastError: string | undefined;
  const loop = () => {
    running = limits.sync().then(
      () => void (lastError = undefined),
      (err: unknown) => {
        if (lastError === undefined) ctx.log.warn("rate limit sync failed; counting locally until it works again", { err });
        lastError = (err as Error).message;
      },
    ).then(() => {
      if (!stopped) timer = setTimeout(loop, config.sync_interval);
    });
  };
  loop();
  ctx.health.register("rate_limit", () => {
    const syncs = limits.shared.reduce((n, w) => n + w.metrics().syncs, 0);
    const failures = limits.shared.reduce((n, w) => n + w.metrics().syncFailures, 0);
    return up({ shared: "postgres", database: db.where, syncs, sync_failures: failures, ...(lastError ? { last_error: lastError } : {}) });
  });
  ctx.lifecycle.onShutdown("close", "rate limit sync", async () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    await running;
    await limits.sync().catch(() => {});
    await db.close();
  });
  return limits;
}
