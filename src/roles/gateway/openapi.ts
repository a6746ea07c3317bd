import { Elysia } from "elysia";
import { TASK_API } from "../../domain/tasks/api.ts";
import { docsPage, openApiDocument, type ApiRoute } from "../../platform/openapi.ts";

/** Each service's public routes, as their own modules describe them. */
const API: readonly ApiRoute[] = [...TASK_API];

/** Route templates (as `routeTemplate` names them) whose answer is an event stream: never pipelined upstream. */
export const STREAMED_ROUTES: ReadonlySet<string> = new Set(
  API.filter((r) => r.response?.contentType === "text/event-stream").map((r) => r.path.replace(/\{[^}]+\}/g, ":id")),
);

/** GET /openapi.json and GET /docs, built once at start. */
export function openApiRoutes(version: string, extra: readonly ApiRoute[] = []) {
  const doc = openApiDocument([...API, ...extra], { title: "bpm API", version });
  const json = JSON.stringify(doc);
  const html = docsPage(doc);
  return new Elysia({ name: "openapi" })
    .get("/openapi.json", () => new Response(json, { headers: { "content-type": "application/json" } }))
    .get("/docs", () => new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } }));
}
