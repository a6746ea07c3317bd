#!/usr/bin/env bun
import pkg from "../package.json" with { type: "json" };
import { HELP, parseCommand, type Command } from "./cli.ts";
import { loadConfig, UsageError } from "./config/loader.ts";
import type { Config, Role } from "./config/schema.ts";
import { createRegistrar, createRegistry, selfInstance } from "./discovery/index.ts";
import { StaticRegistry } from "./discovery/static.ts";
import { HealthRegistry } from "./platform/health.ts";
import { Lifecycle } from "./platform/lifecycle.ts";
import { createLogger, setLogLevel, type LogLevel } from "./platform/logger.ts";
import type { RoleContext, RoleHandle } from "./platform/role.ts";
import { PUBLIC_API } from "./roles/catalog.ts";
import { ServiceBalancers } from "./balancing/service-balancers.ts";
import { ResilienceRegistry } from "./resilience/registry.ts";
import { Metrics } from "./telemetry/metrics.ts";
import { instrumentBalancerEvents } from "./telemetry/resilience.ts";
import { initTracing } from "./telemetry/tracing.ts";
import { fetchTls, httpTlsFiles } from "./platform/http-tls.ts";

export const VERSION: string = pkg.version;

const starters: Record<Role, () => Promise<(ctx: RoleContext) => Promise<RoleHandle>>> = {
  "task-service": async () => (await import("./roles/task-service/index.ts")).startTaskService,
  "form-service": async () => (await import("./roles/form-service/index.ts")).startFormService,
  "process-service": async () => (await import("./roles/process-service/index.ts")).startProcessService,
  gateway: async () => (await import("./roles/gateway/index.ts")).startGateway,
};

async function run(cmd: Extract<Command, { kind: "run" }>): Promise<void> {
  const t0 = performance.now();
  const overrides: Record<string, unknown> = {};
  if (cmd.dataDir) overrides.data_dir = cmd.dataDir;
  if (cmd.logLevel) overrides.log = { level: cmd.logLevel };
  const config = await loadConfig({ file: cmd.configFile, overrides });
  setLogLevel(config.log.level as LogLevel);
  const log = createLogger({ service: "bpm", version: VERSION });
  const lifecycle = new Lifecycle(log, config.http.shutdown_grace);
  lifecycle.installSignalHandlers();
  const metrics = new Metrics();
  metrics.build.labels(VERSION, cmd.roles.join(",")).set(1);
  // before any role starts: roles decide at start-up whether to instrument
  const tracing = await initTracing({ roles: cmd.roles, version: VERSION, log, lifecycle, metrics });
  if (tracing.enabled) log.info("tracing on", { endpoint: tracing.tracesUrl, sampler: tracing.sampler.name, ratio: tracing.sampler.ratio });

  const registry = await createRegistry(config, log);
  lifecycle.onShutdown("close", "discovery", () => registry.close());
  const registrar = await createRegistrar(config, log, VERSION, registry);
  // leave Consul before draining, so peers stop sending while in-flight work finishes
  if (registrar) lifecycle.onShutdown("announce", "consul deregister", () => registrar.deregisterAll());
  // built once and shared by every role in this process: --role=all probes each instance once
  const resilience = new ResilienceRegistry(config.resilience4j);
  // probes speak HTTPS, verified with http_tls's CA, when the HTTP ports do (files read here, at start-up)
  const httpTls = httpTlsFiles(config.http_tls);
  const balancers = new ServiceBalancers({ registry, config: config.load_balancer, activeHealthChecks: config.discovery.mode === "static", ...(httpTls !== undefined ? { probeTls: fetchTls(httpTls) } : {}) });
  instrumentBalancerEvents(balancers.events, metrics);
  lifecycle.onShutdown("close", "balancers", () => balancers.close());
  const handles: RoleHandle[] = [];

  for (const role of cmd.roles) {
    const listen = config.roles[role];
    const ctx: RoleContext = {
      role,
      config,
      log: log.child({ role }),
      metrics,
      resilience,
      balancers,
      lifecycle,
      health: new HealthRegistry(),
      registry,
      version: VERSION,
      publicApi: PUBLIC_API,
      httpPort: cmd.port ?? listen.port,
      grpcPort: role === "gateway" ? undefined : (cmd.grpcPort ?? listen.grpc_port ?? 0),
    };
    const start = await starters[role]();
    const handle = await start(ctx);
    handles.push(handle);
    registrar?.register(role, handle.httpPort, handle.grpcPort);
    // --role=all (and any co-located roles) find each other's real listeners
    if (registry instanceof StaticRegistry && role !== "gateway") {
      registry.addIfEmpty(selfInstance(role, config.advertise_address, handle.httpPort, handle.grpcPort, VERSION));
    }
  }
  if (registry instanceof StaticRegistry) addDefaultPeers(registry, config, cmd.roles);

  const ms = Math.round(performance.now() - t0);
  log.info("bpm started", { roles: cmd.roles, listeners: handles.map((h) => ({ role: h.role, http: h.httpPort, grpc: h.grpcPort })), startup_ms: ms });
  const gw = handles.find((h) => h.role === "gateway");
  if (gw) printWelcome(gw, config.http_tls.enabled);
}

function printWelcome(gw: RoleHandle, https: boolean): void {
  const base = `${https ? "https" : "http"}://127.0.0.1:${gw.httpPort}`;
  const auth = gw.devToken ? ` -H "authorization: Bearer $TOKEN"` : "";
  console.log(`
  bpm ${VERSION} is up — gateway on ${base}  (docs: ${base}/docs)
${gw.devToken ? `  dev token (user 1, admin, designer, 12 h; more with \`bpm token --sub=USER [--roles=designer]\`):\n    export TOKEN=${gw.devToken}\n` : ""}  try:
    curl -s -X POST ${base}/api/tasks${auth} -H 'content-type: application/json' -d '{"title":"Review leave request","user_id":1,"priority":"high"}'
    curl -s '${base}/api/tasks?user_id=1'${auth}
`);
}

/** Roles not in this process default to their standard ports on this host, so two single-role processes find each other. */
function addDefaultPeers(registry: StaticRegistry, config: Config, local: Role[]): void {
  for (const role of ["task-service", "form-service", "process-service"] as const) {
    if (local.includes(role)) continue;
    const listen = config.roles[role];
    if (listen.port > 0) registry.addIfEmpty(selfInstance(role, "127.0.0.1", listen.port, listen.grpc_port, VERSION));
  }
}

async function main(argv: string[]): Promise<void> {
  const cmd = parseCommand(argv);
  switch (cmd.kind) {
    case "help":
      process.stdout.write(HELP);
      return;
    case "version":
      console.log(`bpm ${VERSION} (bun ${Bun.version})`);
      return;
    case "health": {
      const port = cmd.port ?? (Number(process.env.BPM_HEALTH_PORT ?? 0) || undefined);
      const { healthCommand } = await import("./platform/health-cli.ts");
      process.exit(await healthCommand(cmd.host, port, cmd.ca !== undefined ? { ca: cmd.ca, ...(cmd.serverName !== undefined ? { serverName: cmd.serverName } : {}) } : undefined));
    }
    case "token": {
      const { tokenCommand } = await import("./roles/gateway/token-cli.ts");
      process.exit(await tokenCommand(cmd));
    }
    case "run":
      return run(cmd);
  }
}

main(Bun.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(err.message + "\n");
    process.exit(2);
  }
  const e = err as NodeJS.ErrnoException;
  const msg = e?.code === "EADDRINUSE" ? `cannot listen: ${e.message}` : `bpm failed to start: ${e?.message ?? String(err)}`;
  process.stderr.write(msg + "\n");
  process.exit(1);
});
