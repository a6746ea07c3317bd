import { BREAKER_API, platformApi } from "../../platform/api.ts";
import { AllowedMethods } from "../../platform/method-not-allowed.ts";
import { openApiDocument, type ApiRoute, type DocumentOptions } from "../../platform/openapi.ts";
import { openApiRoutes } from "../../platform/openapi-routes.ts";
import { GatewayStatusSchema } from "./admin.ts";

/** The gateway's own routes. */
const GATEWAY_API: readonly ApiRoute[] = [
  {
    method: "get", path: "/api/_gateway/services", operationId: "gatewayServices", tag: "operations",
    summary: "The services the gateway routes to: instances, health, ejection, breaker",
    responses: [{ status: 200, description: "{gateway, services, timestamp}", schema: GatewayStatusSchema }],
  },
];

/** Route templates (as `routeTemplate` names them) whose answer is an event stream: never pipelined upstream. */
export function streamedRoutes(proxied: readonly ApiRoute[]): ReadonlySet<string> {
  return new Set(proxied.filter((r) => r.responses.some((x) => x.contentType === "text/event-stream")).map((r) => r.path.replace(/\{[^}]+\}/g, ":id")));
}

/**
 * Which methods a proxied path serves: `allow(pathname)` gives them (sorted, HEAD beside GET), or
 * undefined for a path no service has. A front answers other methods 405 with them as `Allow`.
 */
export function proxiedMethods(proxied: readonly ApiRoute[]): AllowedMethods {
  const routes = proxied.map((r) => ({ method: r.method, path: r.path.replace(/\{(\w+)\}/g, ":$1") }));
  return new AllowedMethods(() => routes);
}

const PROXY_ERRORS = [429, 502, 503, 504] as const;

/** The document of every public route of every role, as reached through the gateway. */
function gatewayApi(proxiedApi: readonly ApiRoute[], version: string, secured: boolean): { routes: ApiRoute[]; opts: DocumentOptions } {
  const proxied = new Set(proxiedApi);
  return {
    routes: [...proxiedApi, ...GATEWAY_API, ...BREAKER_API, ...platformApi(GatewayStatusSchema)],
    opts: {
      title: "bpm API",
      version,
      description: "Tasks, forms and processes through the gateway. Each role also serves its own part on its own port (/openapi.json there).",
      secured,
      commonErrors: (r) => (proxied.has(r) ? PROXY_ERRORS : []),
    },
  };
}

/** The gateway's OpenAPI document (what clients are generated from). */
export function gatewayOpenApiDocument(proxied: readonly ApiRoute[], version: string, secured: boolean): Record<string, unknown> {
  const { routes, opts } = gatewayApi(proxied, version, secured);
  return openApiDocument(routes, opts);
}

/** GET /openapi.json and GET /docs on the gateway. */
export function gatewayOpenApiRoutes(proxied: readonly ApiRoute[], version: string, secured: boolean) {
  const { routes, opts } = gatewayApi(proxied, version, secured);
  return openApiRoutes(routes, opts);
}
