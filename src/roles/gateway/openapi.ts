import { TASK_API } from "../../domain/tasks/api.ts";
import { BREAKER_API, platformApi } from "../../platform/api.ts";
import { AllowedMethods } from "../../platform/method-not-allowed.ts";
import { openApiDocument, type ApiRoute, type DocumentOptions } from "../../platform/openapi.ts";
import { openApiRoutes } from "../../platform/openapi-routes.ts";
import { FORM_API } from "../form-service/api.ts";
import { PROCESS_API } from "../process-service/api.ts";
import { GatewayStatusSchema } from "./admin.ts";

/** Each service's public routes, as their own modules describe them: what the gateway proxies. */
export const PROXIED_API: readonly ApiRoute[] = [...TASK_API, ...FORM_API, ...PROCESS_API];

/** The gateway's own routes. */
const GATEWAY_API: readonly ApiRoute[] = [
  {
    method: "get", path: "/api/_gateway/services", operationId: "gatewayServices", tag: "operations",
    summary: "The services the gateway routes to: instances, health, ejection, breaker",
    responses: [{ status: 200, description: "{gateway, services, timestamp}", schema: GatewayStatusSchema }],
  },
];

/** Route templates (as `routeTemplate` names them) whose answer is an event stream: never pipelined upstream. */
export const STREAMED_ROUTES: ReadonlySet<string> = new Set(
  PROXIED_API.filter((r) => r.responses.some((x) => x.contentType === "text/event-stream")).map((r) => r.path.replace(/\{[^}]+\}/g, ":id")),
);

const proxiedMethods = new AllowedMethods(() => PROXIED_API.map((r) => ({ method: r.method, path: r.path.replace(/\{(\w+)\}/g, ":$1") })));

/**
 * The methods a proxied path serves (sorted, HEAD beside GET), or undefined for a path no
 * service has: a front answers other methods 405 with this as `Allow`.
 */
export function allowedMethodsFor(pathname: string): string[] | undefined {
  return proxiedMethods.allow(pathname);
}

const PROXY_ERRORS = [429, 502, 503, 504] as const;

/** The document of every public route of every role, as reached through the gateway. */
function gatewayApi(version: string, secured: boolean): { routes: ApiRoute[]; opts: DocumentOptions } {
  const proxied = new Set(PROXIED_API);
  return {
    routes: [...PROXIED_API, ...GATEWAY_API, ...BREAKER_API, ...platformApi(GatewayStatusSchema)],
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
export function gatewayOpenApiDocument(version: string, secured: boolean): Record<string, unknown> {
  const { routes, opts } = gatewayApi(version, secured);
  return openApiDocument(routes, opts);
}

/** GET /openapi.json and GET /docs on the gateway. */
export function gatewayOpenApiRoutes(version: string, secured: boolean) {
  const { routes, opts } = gatewayApi(version, secured);
  return openApiRoutes(routes, opts);
}
