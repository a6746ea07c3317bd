import * as v from "valibot";
import { durationMs } from "./duration.ts";
import { ConsulConfigSchema } from "../discovery/consul-config.ts";
import { ServiceNameSchema, VersionSchema } from "../discovery/names.ts";
import { loadBalancerSchema } from "../balancing/config.ts";
import { Resilience4jSchema } from "../resilience/config.ts";
import { GatewayConfigSchema } from "./gateway.ts";
import { AuthConfigSchema } from "../platform/auth.ts";
import { GrpcTlsConfigSchema } from "../platform/grpc-tls.ts";
import { HttpTlsConfigSchema } from "../platform/http-tls.ts";

export const ROLES = ["gateway", "task-service", "form-service", "process-service"] as const;
export type Role = (typeof ROLES)[number];

const port = (what: string) =>
  v.pipe(v.number(`must be ${what} (an integer in 1..65535)`), v.integer(`must be ${what} (an integer in 1..65535)`), v.minValue(1, `must be ${what} (an integer in 1..65535)`), v.maxValue(65535, `must be ${what} (an integer in 1..65535)`));
const portOrZero = v.pipe(v.number("must be a port (an integer in 0..65535)"), v.integer("must be a port (an integer in 0..65535)"), v.minValue(0, "must be a port (an integer in 0..65535)"), v.maxValue(65535, "must be a port (an integer in 0..65535)"));
const positiveInt = (what = "a positive integer") =>
  v.pipe(v.number(`must be ${what}`), v.integer(`must be ${what}`), v.minValue(1, `must be ${what}`));
const nonEmpty = (what: string) => v.pipe(v.string(`must be ${what}`), v.minLength(1, `must be ${what}`));

const roleListen = v.object({
  port: portOrZero,
  grpc_port: v.optional(portOrZero),
});

const staticInstance = v.object({
  address: nonEmpty("an address"),
  port: port("a port"),
  grpc_port: v.optional(port("a gRPC port")),
  weight: v.optional(v.pipe(v.number("must be a weight in 1..1000"), v.integer("must be a weight in 1..1000"), v.minValue(1, "must be a weight in 1..1000"), v.maxValue(1000, "must be a weight in 1..1000")), 100),
  id: v.optional(v.string()),
  tags: v.optional(v.array(v.string()), []),
  /** The release this instance runs: a route's `versions` split traffic by it (docs/routes.md). */
  version: v.optional(VersionSchema),
});

/** The whole config. Sections other issues own are kept open until their schemas land. */
export const ConfigSchema = v.object({
  log: v.object({
    level: v.picklist(["debug", "info", "warn", "error"], "must be one of debug, info, warn, error"),
  }),
  http: v.object({
    host: nonEmpty("a host to listen on"),
    body_limit_bytes: positiveInt("a positive number of bytes"),
    shutdown_grace: durationMs("the shutdown grace period"),
  }),
  data_dir: nonEmpty("a directory"),
  advertise_address: nonEmpty("an address other instances can reach"),
  roles: v.object({
    gateway: roleListen,
    "task-service": roleListen,
    "form-service": roleListen,
    "process-service": roleListen,
  }),
  discovery: v.object({
    mode: v.picklist(["static", "consul"], "must be static or consul"),
    /** Any service, bpm role or not: a gateway route may front it (gateway.routes). */
    static: v.record(ServiceNameSchema, v.array(staticInstance)),
    snapshot_file: v.optional(v.string()),
  }),
  consul: ConsulConfigSchema,
  storage: v.object({
    database_url: v.optional(v.pipe(v.string("must be a postgres:// URL"), v.regex(/^postgres(ql)?:\/\/[^\s]+$/, "must be a postgres:// or postgresql:// URL"))),
    sqlite: v.object({
      synchronous: v.picklist(["NORMAL", "FULL"], "must be NORMAL or FULL"),
      busy_timeout: durationMs("the busy timeout"),
    }),
  }),
  resilience4j: Resilience4jSchema,
  fallback: v.object({
    cacheTimeout: durationMs("the fallback cache timeout"),
    shouldCache: v.boolean("must be true or false"),
    defaultResponse: v.optional(v.unknown()),
  }),
  load_balancer: loadBalancerSchema,
  /** Every role verifies credentials with this (docs/security.md); `gateway.auth` is its deprecated old name. */
  auth: v.optional(AuthConfigSchema, {}),
  /** TLS on gRPC listeners and role-to-role gRPC clients (docs/security.md "TLS"). */
  grpc_tls: v.optional(GrpcTlsConfigSchema, {}),
  /** TLS on the HTTP listeners and the roles' HTTP clients (docs/security.md "TLS"). */
  http_tls: v.optional(HttpTlsConfigSchema, {}),
  gateway: GatewayConfigSchema,
  telemetry: v.record(v.string(), v.unknown()),
  fault_injection: v.object({
    enabled: v.boolean("must be true or false"),
  }),
});

export type Config = v.InferOutput<typeof ConfigSchema>;
