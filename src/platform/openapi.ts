import { toJsonSchema, type JsonSchema } from "@valibot/to-json-schema";
import * as v from "valibot";

/** Who may call an operation: anyone, a signed-in user (bearer JWT), or an admin. */
export type Access = "open" | "user" | "admin";

/** One success answer of an operation. */
export interface ApiResponse {
  status: number;
  description: string;
  /** JSON body schema; omit with `contentType` for a non-JSON body (SSE, Prometheus text). */
  schema?: v.GenericSchema;
  contentType?: string;
  /** Extra media types this answer can take, by content negotiation (Accept). */
  alternatives?: Record<string, v.GenericSchema | undefined>;
  /** OpenAPI links from this answer to the operations it leads to. */
  links?: Record<string, ApiLink>;
}

/** An OpenAPI link: the next operation and where its parameters come from (runtime expressions). */
export interface ApiLink {
  operationId: string;
  parameters?: Record<string, string>;
  requestBody?: unknown;
  description?: string;
}

/** One public HTTP operation, described by the same valibot schemas that validate it. */
export interface ApiRoute {
  method: "get" | "post" | "patch" | "put" | "delete";
  /** OpenAPI path template, e.g. /api/tasks/{id}. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** Default "user". */
  access?: Access;
  pathParams?: Record<string, v.GenericSchema>;
  query?: v.GenericSchema;
  /** Request headers the operation reads (name → schema). */
  headers?: Record<string, v.GenericSchema>;
  body?: v.GenericSchema;
  /** The body may be left out (default: required when `body` is set). */
  bodyOptional?: boolean;
  responses: readonly ApiResponse[];
  /** Error statuses beyond those implied (400 for inputs, 401/403 for access, 404 for path ids, 413 for bodies). */
  errors?: readonly number[];
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "bad input: `details` names every bad field",
  401: "missing or invalid bearer token (UNAUTHORIZED)",
  403: "the token lacks the claim this needs: admin, or the designer role (FORBIDDEN)",
  404: "no such resource, or not yours (NOT_FOUND)",
  409: "conflicts with the resource's current state (STEP_NOT_CURRENT, INSTANCE_NOT_RUNNING, CONCURRENT_UPDATE)",
  413: "body larger than http.body_limit_bytes (PAYLOAD_TOO_LARGE)",
  422: "the data does not satisfy the form (FORM_VALIDATION_FAILED): `details` lists each field",
  429: "rate limited: retry after `Retry-After` seconds (RATE_LIMITED)",
  502: "an upstream service failed (UPSTREAM_ERROR)",
  503: "no healthy instance or circuit open: retry after `Retry-After` seconds",
  504: "an upstream service timed out (UPSTREAM_TIMEOUT)",
};

const ERROR_SCHEMA = {
  type: "object",
  required: ["error", "code", "correlation_id"],
  properties: {
    error: { type: "string", description: "a human message" },
    code: { type: "string", description: "a stable machine code, e.g. VALIDATION_FAILED, NOT_FOUND, UNAUTHORIZED" },
    correlation_id: { type: "string", description: "the request's X-Correlation-ID" },
    details: { description: "on 400 and 422: the problems, one per field" },
    retryAfter: { type: "integer", description: "seconds, on 429 and 503" },
  },
};

/** The converter reads a pipe action by action: at a `jsonSchemaOf` marker (src/domain/json-schema.ts), what was read so far is replaced. */
function overrideFromMetadata(action: { type: string; metadata?: { jsonSchema?: JsonSchema } }): JsonSchema | undefined {
  return action.type === "metadata" ? action.metadata?.jsonSchema : undefined;
}

/** JSON Schema (2020-12, as OpenAPI 3.1 uses) of a valibot schema's input. */
export function schemaOf(s: v.GenericSchema): Record<string, unknown> {
  const json = toJsonSchema(s, {
    target: "draft-2020-12",
    errorMode: "ignore",
    typeMode: "input",
    overrideAction: ({ valibotAction }) => overrideFromMetadata(valibotAction as { type: string; metadata?: { jsonSchema?: JsonSchema } }),
  }) as Record<string, unknown>;
  const { $schema: _drop, ...rest } = json;
  return rest;
}

function queryParams(s: v.GenericSchema): unknown[] {
  const json = schemaOf(s) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, schema]) => {
    const { description, ...rest } = schema;
    return { name, in: "query", required: json.required?.includes(name) ?? false, ...(description ? { description } : {}), schema: rest };
  });
}

/** The statuses an operation can answer with an error, in order. */
export function errorStatuses(r: ApiRoute, opts: Pick<DocumentOptions, "secured" | "adminSecured">): number[] {
  const codes = new Set<number>(r.errors ?? []);
  if (r.pathParams || r.query || r.body || r.headers) codes.add(400);
  if (r.pathParams) codes.add(404);
  if (r.body) codes.add(413);
  if (isProtected(r, opts)) codes.add(401);
  if (isProtected(r, opts) && r.access === "admin") codes.add(403);
  return [...codes].sort((a, b) => a - b);
}

export interface DocumentOptions {
  title: string;
  version: string;
  description?: string;
  /** The port verifies bearer tokens on user operations: they carry the security requirement and 401. */
  secured: boolean;
  /** The port verifies admin tokens on admin operations (default: `secured`). */
  adminSecured?: boolean;
  /** Error statuses an operation can answer on this port besides its own (the gateway's 429, 502, 503, 504). */
  commonErrors?: (r: ApiRoute) => readonly number[];
}

function isProtected(r: ApiRoute, opts: Pick<DocumentOptions, "secured" | "adminSecured">): boolean {
  const access = r.access ?? "user";
  return access === "user" ? opts.secured : access === "admin" ? (opts.adminSecured ?? opts.secured) : false;
}

function successResponse(ok: ApiResponse): Record<string, unknown> {
  const content: Record<string, unknown> = {};
  if (ok.schema) content["application/json"] = { schema: schemaOf(ok.schema) };
  else if (ok.contentType) content[ok.contentType] = { schema: { type: "string" } };
  for (const [type, schema] of Object.entries(ok.alternatives ?? {})) content[type] = { schema: schema ? schemaOf(schema) : { type: "string" } };
  return {
    description: ok.description,
    ...(Object.keys(content).length ? { content } : {}),
    ...(ok.links ? { links: Object.fromEntries(Object.entries(ok.links).map(([name, l]) => [name, { operationId: l.operationId, ...(l.parameters ? { parameters: l.parameters } : {}), ...(l.requestBody !== undefined ? { requestBody: l.requestBody } : {}), ...(l.description ? { description: l.description } : {}) }])) } : {}),
  };
}

/** OpenAPI 3.1 for a port's operations, generated from the route table (never written twice). */
export function openApiDocument(routes: readonly ApiRoute[], opts: DocumentOptions): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params: unknown[] = Object.entries(r.pathParams ?? {}).map(([name, schema]) => ({ name, in: "path", required: true, schema: schemaOf(schema) }));
    if (r.query) params.push(...queryParams(r.query));
    for (const [name, schema] of Object.entries(r.headers ?? {})) params.push({ name, in: "header", required: false, schema: schemaOf(schema) });
    const responses: Record<string, unknown> = {};
    for (const ok of r.responses) responses[String(ok.status)] = successResponse(ok);
    const errors = new Set(errorStatuses(r, opts));
    for (const c of opts.commonErrors?.(r) ?? []) errors.add(c);
    for (const code of [...errors].sort((a, b) => a - b)) responses[String(code)] = { $ref: `#/components/responses/E${code}` };
    (paths[r.path] ??= {})[r.method] = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      security: isProtected(r, opts) ? [{ bearer: [] }] : [],
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: !r.bodyOptional, content: { "application/json": { schema: schemaOf(r.body) } } } } : {}),
      responses,
    };
  }
  const used = new Set(Object.values(paths).flatMap((ops) => Object.values(ops).flatMap((op) => Object.keys((op as { responses: object }).responses))));
  const errorResponses = Object.fromEntries(
    Object.entries(ERROR_DESCRIPTIONS)
      .filter(([code]) => used.has(code))
      .map(([code, description]) => [`E${code}`, { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } }]),
  );
  return {
    openapi: "3.1.0",
    info: { title: opts.title, version: opts.version, ...(opts.description ? { description: opts.description } : {}) },
    servers: [{ url: "/" }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    components: {
      ...(routes.some((r) => isProtected(r, opts)) ? { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "mint one with `bpm token --sub=USER [--admin]`" } } } : {}),
      schemas: { Error: ERROR_SCHEMA },
      responses: errorResponses,
    },
    paths,
  };
}

/** Path template → the methods it serves (upper case, HEAD with GET), for 405 answers with `Allow`. */
export function allowedMethods(routes: readonly ApiRoute[]): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const r of routes) {
    const set = out.get(r.path) ?? new Set<string>();
    set.add(r.method.toUpperCase());
    if (r.method === "get") set.add("HEAD");
    out.set(r.path, set);
  }
  return new Map([...out].map(([p, s]) => [p, [...s].sort()]));
}
