import { toJsonSchema } from "@valibot/to-json-schema";
import type * as v from "valibot";

/** One public REST operation, described by the same valibot schemas that validate it. */
export interface ApiRoute {
  method: "get" | "post" | "patch" | "put" | "delete";
  /** OpenAPI path template, e.g. /api/tasks/{id}. */
  path: string;
  summary: string;
  tag: string;
  body?: v.GenericSchema;
  query?: v.GenericSchema;
  /** Success status and its schema (omit for a non-JSON body such as SSE). */
  response?: { status: number; schema?: v.GenericSchema; description?: string; contentType?: string };
  pathParams?: Record<string, string>;
}

const ERROR_SCHEMA = {
  type: "object",
  required: ["error", "code", "correlation_id"],
  properties: {
    error: { type: "string" },
    code: { type: "string" },
    correlation_id: { type: "string" },
    details: {},
    retryAfter: { type: "integer", description: "seconds, on 429 and 503" },
  },
};

function schemaOf(s: v.GenericSchema): Record<string, unknown> {
  const { $schema: _drop, ...rest } = toJsonSchema(s, { errorMode: "ignore", typeMode: "input" }) as Record<string, unknown>;
  return rest;
}

function queryParams(s: v.GenericSchema): unknown[] {
  const json = schemaOf(s) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, schema]) => ({ name, in: "query", required: json.required?.includes(name) ?? false, schema }));
}

/** OpenAPI 3.1 for the public API, generated from the route table (never written twice). */
export function openApiDocument(routes: readonly ApiRoute[], info: { title: string; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params: unknown[] = Object.entries(r.pathParams ?? {}).map(([name, description]) => ({ name, in: "path", required: true, description, schema: { type: "string" } }));
    if (r.query) params.push(...queryParams(r.query));
    const responses: Record<string, unknown> = {};
    const ok = r.response ?? { status: 200 };
    responses[String(ok.status)] = {
      description: ok.description ?? "success",
      ...(ok.schema ? { content: { "application/json": { schema: schemaOf(ok.schema) } } } : ok.contentType ? { content: { [ok.contentType]: {} } } : {}),
    };
    for (const [code, description] of [["400", "bad input"], ["401", "missing or invalid token"], ["404", "not found"], ["429", "rate limited"], ["502", "upstream failed"], ["503", "no healthy instance or circuit open"], ["504", "upstream timeout"]] as const) {
      responses[code] = { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
    }
    (paths[r.path] ??= {})[r.method] = {
      summary: r.summary,
      tags: [r.tag],
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: schemaOf(r.body) } } } } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info,
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } }, schemas: { Error: ERROR_SCHEMA } },
    paths,
  };
}

/** A self-contained docs page: the operations listed from the document, no CDN needed. */
export function docsPage(doc: Record<string, unknown>): string {
  const paths = doc.paths as Record<string, Record<string, { summary: string; tags: string[] }>>;
  const rows = Object.entries(paths)
    .flatMap(([path, ops]) => Object.entries(ops).map(([m, op]) => `<tr><td><code>${m.toUpperCase()}</code></td><td><code>${path}</code></td><td>${op.summary}</td></tr>`))
    .join("\n");
  const info = doc.info as { title: string; version: string };
  return `<!doctype html><html><head><meta charset="utf-8"><title>${info.title} ${info.version}</title>
<style>body{font:15px system-ui;margin:2em;max-width:70em}td{padding:.3em .8em;border-bottom:1px solid #ddd}code{background:#f4f4f4;padding:0 .2em}</style></head>
<body><h1>${info.title} <small>${info.version}</small></h1>
<p>Every call needs <code>Authorization: Bearer &lt;jwt&gt;</code> (mint one with <code>bpm token --sub=USER</code>).
Errors are <code>{"error","code","correlation_id"}</code>. Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<table>${rows}</table></body></html>`;
}
