import { parseArgs } from "node:util";
import { UsageError } from "./config/loader.ts";
import { ROLES, type Role } from "./config/schema.ts";

export const HELP = `bpm — gateway, task, form and process services in one binary

Usage:
  bpm [--role=ROLE[,ROLE…]] [--config FILE] [--port N] [--grpc-port N] [--data-dir DIR]
  bpm token --sub=USER [--ttl=1h] [--admin] [--roles=designer]
                                              mint a token every role accepts (uses the data dir's secret)
  bpm health [--port N] [--host H] [--ca FILE] [--server-name NAME]
                                              exit 0 when the local /health is UP (HTTPS verified with --ca)
  bpm --help | --version

Roles: gateway, task-service, form-service, process-service, all (default: all in one process)

Options:
  --role ROLES       comma-separated roles to run (default: all)
  --config FILE      YAML deep-merged over the embedded default
  --port N           HTTP port (only with a single role)
  --grpc-port N      gRPC port (only with a single non-gateway role)
  --data-dir DIR     where SQLite stores and secrets live (default ./data)
  --log-level LEVEL  debug | info | warn | error

Environment:
  CONSUL_HTTP_ADDR              use Consul discovery at this agent
  DATABASE_URL                  postgres://… : every role stores in PostgreSQL
  OTEL_EXPORTER_OTLP_ENDPOINT   send traces over OTLP/HTTP (tracing is off without it)
  OTEL_SERVICE_NAME             override the service.name of traces
  BPM_PORT, BPM_GRPC_PORT       like --port / --grpc-port (a flag wins); bpm health probes BPM_PORT too
  BPM_HEALTH_CA                 like bpm health --ca (a flag wins)
  BPM_DATA_DIR, BPM_LOG_LEVEL, BPM_HOST, BPM_ADVERTISE_ADDRESS, BPM_FAULT_INJECTION

Default ports: gateway 8000; process-service 8080/50053; form-service 8081/50052; task-service 8082/50051.
`;

export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "run"; roles: Role[]; configFile?: string; port?: number; grpcPort?: number; dataDir?: string; logLevel?: string }
  | { kind: "token"; sub: string; ttl: string; admin: boolean; roles: string[]; configFile?: string; dataDir?: string }
  | { kind: "health"; port?: number; host: string; ca?: string; serverName?: string };

function portFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new UsageError(`${name.startsWith("BPM_") ? name : `--${name}`} must be a port number in 0..65535, got "${value}"`);
  return Number(value);
}

type Env = Record<string, string | undefined>;

/** A flag wins over its environment variable; containers set the variable so the HEALTHCHECK sees the same port. */
function portOption(flag: string, value: unknown, env: Env, variable: string): number | undefined {
  if (value !== undefined) return portFlag(flag, value as string);
  return portFlag(variable, env[variable] || undefined);
}

function parse(argv: string[], options: NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>["options"]>) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  } catch (err) {
    const msg = (err as Error).message.split("\n")[0]!.replace(/^Unknown option '(.*)'.*/, "unknown flag $1 (see --help)");
    throw new UsageError(msg);
  }
}

export function parseCommand(argv: string[], env: Env = process.env): Command {
  if (argv[0] === "token") {
    const { values } = parse(argv.slice(1), { sub: { type: "string" }, ttl: { type: "string" }, admin: { type: "boolean" }, roles: { type: "string" }, config: { type: "string" }, "data-dir": { type: "string" } });
    if (!values.sub) throw new UsageError("token: --sub=USER is required (the user id the token speaks for)");
    const ttl = (values.ttl as string | undefined) ?? "1h";
    if (!/^\d+[smhd]$/.test(ttl)) throw new UsageError(`token: --ttl must look like 30m, 1h or 7d, got "${ttl}"`);
    const roles = ((values.roles as string | undefined) ?? "").split(",").map((r) => r.trim()).filter((r) => r !== "");
    if (roles.some((r) => !/^[a-z][a-z0-9_-]{0,63}$/.test(r))) throw new UsageError(`token: --roles must be a comma-separated list of role names such as designer, got "${values.roles}"`);
    return { kind: "token", sub: values.sub as string, ttl, admin: Boolean(values.admin), roles, configFile: values.config as string | undefined, dataDir: values["data-dir"] as string | undefined };
  }
  if (argv[0] === "health") {
    const { values } = parse(argv.slice(1), { port: { type: "string" }, host: { type: "string" }, ca: { type: "string" }, "server-name": { type: "string" } });
    const port = portOption("port", values.port, env, env.BPM_HEALTH_PORT ? "BPM_HEALTH_PORT" : "BPM_PORT");
    const ca = (values.ca as string | undefined) ?? (env.BPM_HEALTH_CA || undefined);
    const serverName = values["server-name"] as string | undefined;
    if (serverName !== undefined && ca === undefined) throw new UsageError("health: --server-name needs --ca (the CA that verifies the HTTPS port)");
    return { kind: "health", port, host: (values.host as string | undefined) ?? "127.0.0.1", ...(ca !== undefined ? { ca } : {}), ...(serverName !== undefined ? { serverName } : {}) };
  }
  const { values } = parse(argv, {
    role: { type: "string" },
    config: { type: "string" },
    port: { type: "string" },
    "grpc-port": { type: "string" },
    "data-dir": { type: "string" },
    "log-level": { type: "string" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "v" },
  });
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  const roles = parseRoles(values.role as string | undefined);
  const port = portOption("port", values.port, env, "BPM_PORT");
  const grpcPort = portOption("grpc-port", values["grpc-port"], env, "BPM_GRPC_PORT");
  if (port !== undefined && roles.length !== 1) throw new UsageError(`--port (or BPM_PORT) applies to a single role, but ${roles.length} roles were asked for (${roles.join(",")})`);
  if (grpcPort !== undefined && (roles.length !== 1 || roles[0] === "gateway")) throw new UsageError("--grpc-port (or BPM_GRPC_PORT) applies to a single task-, form- or process-service role");
  const logLevel = values["log-level"] as string | undefined;
  if (logLevel !== undefined && !["debug", "info", "warn", "error"].includes(logLevel)) throw new UsageError(`--log-level must be debug, info, warn or error, got "${logLevel}"`);
  return { kind: "run", roles, configFile: values.config as string | undefined, port, grpcPort, dataDir: values["data-dir"] as string | undefined, logLevel };
}

export function parseRoles(value: string | undefined): Role[] {
  const out = new Set<Role>();
  if (value === undefined || value === "") value = "all";
  for (const raw of value.split(",").map((s) => s.trim()).filter(Boolean)) {
    if (raw === "all") ROLES.forEach((r) => out.add(r));
    else if ((ROLES as readonly string[]).includes(raw)) out.add(raw as Role);
    else throw new UsageError(`--role: unknown role "${raw}" (expected gateway, task-service, form-service, process-service or all)`);
  }
  if (out.size === 0) throw new UsageError("--role: no role given (expected gateway, task-service, form-service, process-service or all)");
  // services before the gateway so --role=all can route to them at once
  return ROLES.filter((r) => out.has(r)).sort((a, b) => (a === "gateway" ? 1 : 0) - (b === "gateway" ? 1 : 0));
}
