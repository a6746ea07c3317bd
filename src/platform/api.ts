import * as v from "valibot";
import type { ApiRoute } from "./openapi.ts";
import { TransitionSchema } from "./admin.ts";

const timestampMs = v.pipe(v.number(), v.integer());
const state = v.picklist(["UP", "DOWN", "UNKNOWN"]);
const HealthSchema = v.object({
  status: state,
  /** One entry per named check, each itself {status, details, timestamp}. */
  details: v.record(v.string(), v.unknown()),
  timestamp: timestampMs,
});

/** GET /metrics as JSON: every metric of the role's registry (prom-client's JSON form). */
export const MetricsJsonSchema = v.object({
  role: v.string(),
  timestamp: v.pipe(v.string(), v.isoTimestamp()),
  metrics: v.array(v.object({ name: v.string(), help: v.string(), type: v.string(), values: v.array(v.object({ value: v.number(), labels: v.record(v.string(), v.union([v.string(), v.number()])) })) })),
});

const metricsRoute = (json: v.GenericSchema): ApiRoute => ({
  method: "get", path: "/metrics", operationId: "metrics", tag: "operations", access: "open",
  summary: "Metrics: Prometheus text by default; JSON with `Accept: application/json`",
  responses: [{ status: 200, description: "the metrics", contentType: "text/plain", alternatives: { "application/json": json } }],
});

/** What every HTTP port serves besides its own API. `metricsJson` is the port's JSON form of /metrics. */
export function platformApi(metricsJson: v.GenericSchema = MetricsJsonSchema): ApiRoute[] {
  return [
    {
      method: "get", path: "/health", operationId: "health", tag: "operations", access: "open",
      summary: "Health: any check DOWN → DOWN (503), else any UNKNOWN → UNKNOWN (503), else UP (200)",
      responses: [
        { status: 200, description: "UP", schema: HealthSchema },
        { status: 503, description: "DOWN or UNKNOWN", schema: HealthSchema },
      ],
    },
    metricsRoute(metricsJson),
    { method: "get", path: "/openapi.json", operationId: "openapi", tag: "operations", access: "open", summary: "This document", responses: [{ status: 200, description: "OpenAPI 3.1", contentType: "application/json" }] },
    { method: "get", path: "/docs", operationId: "docs", tag: "operations", access: "open", summary: "This document as a page", responses: [{ status: 200, description: "HTML", contentType: "text/html" }] },
  ];
}

const BreakerSchema = v.looseObject({ state: v.string() });

/** The operator's view of a role's outbound breakers (roles that call others). */
export const BREAKER_API: readonly ApiRoute[] = [
  { method: "get", path: "/admin/breakers", operationId: "listBreakers", tag: "admin", access: "admin", summary: "Every outbound breaker with its retry and budget figures", responses: [{ status: 200, description: "breakers by name", schema: v.record(v.string(), BreakerSchema) }] },
  {
    method: "post", path: "/admin/breakers/{name}", operationId: "transitionBreaker", tag: "admin", access: "admin",
    summary: "Force a breaker's state (CLOSED, OPEN, HALF_OPEN, DISABLED, FORCED_OPEN) or RESET it",
    pathParams: { name: v.pipe(v.string(), v.minLength(1), v.maxLength(100)) }, body: TransitionSchema,
    responses: [{ status: 200, description: "the breaker after the change", schema: v.looseObject({ name: v.string(), state: v.string() }) }],
  },
];
