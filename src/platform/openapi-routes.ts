import { Elysia } from "elysia";
import { docsPage } from "./docs-page.ts";
import { openApiDocument, type ApiRoute, type DocumentOptions } from "./openapi.ts";

/** GET /openapi.json and GET /docs for a port's operations, built once at start. */
export function openApiRoutes(routes: readonly ApiRoute[], opts: DocumentOptions) {
  const doc = openApiDocument(routes, opts);
  const json = JSON.stringify(doc);
  const html = docsPage(doc);
  return new Elysia({ name: `openapi-${opts.title}` })
    .get("/openapi.json", () => new Response(json, { headers: { "content-type": "application/json" } }))
    .get("/docs", () => new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } }));
}
