import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startBpm, tempDir, token, type BpmProcess } from "../support/bpm.ts";
import { toolPath } from "../support/tools.ts";

let bpm: BpmProcess;
let auth: Record<string, string>;
beforeAll(async () => {
  bpm = await startBpm();
  auth = { authorization: `Bearer ${await token("1", { admin: true })}` };
});
afterAll(() => bpm?.stop());

const ROLES = ["gateway", "task-service", "form-service", "process-service"] as const;

async function documentOf(role: (typeof ROLES)[number]): Promise<any> {
  const res = await fetch(`${bpm.url(role)}/openapi.json`);
  expect(res.status).toBe(200);
  return res.json();
}

function validates(doc: unknown): string {
  const file = join(tempDir(), "openapi.json");
  require("node:fs").writeFileSync(file, JSON.stringify(doc));
  const check = Bun.spawnSync([toolPath("openapi-spec-validator"), file], { stdout: "pipe", stderr: "pipe" });
  return `${check.exitCode} ${check.stdout.toString()}${check.stderr.toString()}`;
}

const operations = (doc: any) => Object.entries(doc.paths).flatMap(([path, ops]: [string, any]) => Object.entries(ops).map(([method, op]: [string, any]) => ({ path, method, op })));
const param = (op: any, name: string) => op.parameters.find((p: any) => p.name === name);

describe("the gateway's /openapi.json", () => {
  test("documents every public route of every role, and validates as OpenAPI 3.1", async () => {
    const doc = await documentOf("gateway");
    expect(doc.openapi).toBe("3.1.0");
    const ops = operations(doc).map((o) => `${o.method.toUpperCase()} ${o.path}`);
    for (const expected of [
      "POST /api/tasks", "GET /api/tasks", "GET /api/tasks/stream", "GET /api/tasks/{id}", "PATCH /api/tasks/{id}", "PUT /api/tasks/{id}", "DELETE /api/tasks/{id}",
      "POST /api/forms", "GET /api/forms", "GET /api/forms/{key}", "GET /api/forms/{key}/versions", "GET /api/forms/{key}/versions/{version}",
      "POST /api/forms/{key}/validate", "POST /api/forms/{key}/submissions", "GET /api/forms/submissions/{id}",
      "POST /api/processes", "GET /api/processes", "GET /api/processes/{key}", "GET /api/processes/{key}/versions", "GET /api/processes/{key}/versions/{version}",
      "POST /api/processes/{key}/instances", "GET /api/processes/instances", "GET /api/processes/instances/{id}",
      "POST /api/processes/instances/{id}/complete", "POST /api/processes/instances/{id}/cancel",
      "GET /api/_gateway/services", "GET /admin/breakers", "POST /admin/breakers/{name}", "GET /health", "GET /metrics", "GET /openapi.json", "GET /docs",
    ]) expect(ops).toContain(expected);
    expect(validates(doc)).toStartWith("0 ");
  });

  test("says what the validators say: id minimums, required fields, enums, patterns, formats", async () => {
    const doc = await documentOf("gateway");
    expect(param(doc.paths["/api/tasks/{id}"].get, "id").schema).toMatchObject({ type: "integer", minimum: 1, maximum: 2147483647 });
    const create = doc.paths["/api/tasks"].post.requestBody.content["application/json"].schema;
    expect(create.required).toEqual(["title", "user_id"]);
    expect(create.properties.user_id).toMatchObject({ type: "integer", minimum: 1 });
    expect(create.properties.priority.enum).toEqual(["low", "medium", "high", "critical"]);
    expect(create.properties.title.maxLength).toBe(500);
    expect(new RegExp(create.properties.title.pattern).test("   ")).toBe(false);
    expect(param(doc.paths["/api/tasks/stream"].get, "task_ids").schema.pattern).toBeDefined();
    expect(param(doc.paths["/api/tasks"].get, "limit").schema).toMatchObject({ type: "integer", minimum: 1, maximum: 1000 });
    expect(doc.paths["/api/processes/instances/{id}/complete"].post.requestBody.content["application/json"].schema.required).toEqual(["step_id"]);
    const task = doc.paths["/api/tasks/{id}"].get.responses["200"].content["application/json"].schema;
    expect(task.properties.created_at.format).toBe("date-time");
  });

  test("errors are the {error, code, correlation_id} shape; protected routes need a bearer token, the operational ones are open", async () => {
    const doc = await documentOf("gateway");
    expect(doc.components.schemas.Error.required).toEqual(["error", "code", "correlation_id"]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    const get = doc.paths["/api/tasks/{id}"].get;
    expect(get.security).toEqual([{ bearer: [] }]);
    for (const code of ["400", "401", "404", "429", "503"]) expect(get.responses[code]).toBeDefined();
    expect(doc.components.responses.E401.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Error" });
    for (const path of ["/health", "/metrics", "/openapi.json", "/docs"]) {
      expect(doc.paths[path].get.security).toEqual([]);
      expect(doc.paths[path].get.responses["401"]).toBeUndefined();
    }
    expect(doc.paths["/admin/breakers"].get.responses["403"]).toBeDefined();
  });

  test("links lead from create to get/patch/delete, publish to submit, deploy to start to complete", async () => {
    const doc = await documentOf("gateway");
    const ids = new Set(operations(doc).map((o) => o.op.operationId));
    const links = (path: string, method: string, status: string) => doc.paths[path][method].responses[status].links;
    const created = links("/api/tasks", "post", "201");
    expect(Object.values(created).map((l: any) => l.operationId)).toEqual(expect.arrayContaining(["getTask", "updateTask", "deleteTask"]));
    expect(created.GetTask.parameters).toEqual({ id: "$response.body#/id" });
    expect(links("/api/forms", "post", "201").Submit.operationId).toBe("submitForm");
    expect(links("/api/processes", "post", "201").Start.operationId).toBe("startProcess");
    expect(links("/api/processes/{key}/instances", "post", "201").Complete.operationId).toBe("completeStep");
    for (const { op } of operations(doc)) for (const r of Object.values(op.responses) as any[]) for (const l of Object.values(r.links ?? {}) as any[]) expect(ids).toContain(l.operationId);
  });

  test("/docs renders every operation, with no script from elsewhere", async () => {
    const doc = await documentOf("gateway");
    const res = await fetch(`${bpm.url()}/docs`);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    for (const { op } of operations(doc)) expect(html).toContain(`id="${op.operationId}"`);
    expect(html).toContain("$response.body#/id");
    expect(html).not.toMatch(/<script[^>]+src=|https?:\/\/(?!127\.0\.0\.1)/);
  });
});

describe("each role's own /openapi.json", () => {
  test("documents the role's routes and validates", async () => {
    const expected = { "task-service": "/api/tasks/{id}", "form-service": "/api/forms/{key}", "process-service": "/api/processes/instances/{id}" } as const;
    for (const [role, path] of Object.entries(expected) as [keyof typeof expected, string][]) {
      const doc = await documentOf(role);
      expect(Object.keys(doc.paths)).toContain(path);
      expect(Object.keys(doc.paths)).toContain("/health");
      expect(Object.keys(doc.paths)).not.toContain("/api/_gateway/services");
      expect(validates(doc)).toStartWith("0 ");
    }
  });
});

describe("a method a known path does not serve", () => {
  test("is 405 with Allow on every role's port, in the error shape", async () => {
    // a proxied path: the gateway's front answers from its own per-prefix method list
    const proxied = await fetch(`${bpm.url()}/api/tasks`, { method: "TRACE", headers: auth });
    expect(proxied.status).toBe(405);
    expect(proxied.headers.get("allow")?.split(", ")).toEqual(expect.arrayContaining(["GET", "POST"]));
    const cases: [(typeof ROLES)[number], string, string, string][] = [
      ["gateway", "DELETE", "/health", "GET, HEAD"],
      ["gateway", "PATCH", "/api/_gateway/services", "GET, HEAD"],
      ["task-service", "TRACE", "/api/tasks", "GET, HEAD, POST"],
      ["task-service", "POST", "/api/tasks/7", "DELETE, GET, HEAD, PATCH, PUT"],
      ["form-service", "DELETE", "/api/forms/f/versions/1", "GET, HEAD"],
      ["process-service", "PUT", "/api/processes/instances/x/complete", "POST"],
      ["process-service", "DELETE", "/metrics", "GET, HEAD"],
    ];
    for (const [role, method, path, allow] of cases) {
      const res = await fetch(`${bpm.url(role)}${path}`, { method, headers: auth });
      expect(`${role} ${method} ${path} → ${res.status} ${res.headers.get("allow")}`).toBe(`${role} ${method} ${path} → 405 ${allow}`);
      if (method === "TRACE") continue; // Bun's fetch hands back no body for TRACE (curl shows the same JSON)
      const body = (await res.json()) as any;
      expect(body.code).toBe("METHOD_NOT_ALLOWED");
      expect(body.correlation_id).toBeString();
    }
    // an unknown path is still 404, and OPTIONS lists the methods
    expect((await fetch(`${bpm.url("task-service")}/api/nothing`, { method: "TRACE", headers: auth })).status).toBe(404);
    const options = await fetch(`${bpm.url("task-service")}/api/tasks`, { method: "OPTIONS", headers: auth });
    expect(options.status).toBe(204);
    expect(options.headers.get("allow")).toBe("GET, HEAD, POST, OPTIONS");
  });
});

describe("/metrics", () => {
  test("is Prometheus text by default and JSON when asked: the seed's {gateway, services, timestamp} on the gateway", async () => {
    const text = await fetch(`${bpm.url()}/metrics`);
    expect(text.headers.get("content-type")).toContain("text/plain");
    expect(await text.text()).toContain("# TYPE");
    const json = await fetch(`${bpm.url()}/metrics`, { headers: { accept: "application/json" } });
    expect(json.headers.get("content-type")).toContain("application/json");
    const body = (await json.json()) as any;
    expect(body.gateway).toBe("healthy");
    expect(body.services["task-service"]).toMatchObject({ healthy: true, instances: 1 });
    expect(Number.isNaN(Date.parse(body.timestamp))).toBe(false);
    // text wins when preferred
    const pref = await fetch(`${bpm.url()}/metrics`, { headers: { accept: "text/plain, application/json;q=0.5" } });
    expect(pref.headers.get("content-type")).toContain("text/plain");
  });

  test("on a service role, JSON lists the role's metrics", async () => {
    const res = await fetch(`${bpm.url("task-service")}/metrics`, { headers: { accept: "application/json" } });
    const body = (await res.json()) as any;
    expect(body.role).toBe("task-service");
    expect(body.metrics.map((m: any) => m.name)).toContain("bpm_http_requests_total");
  });
});
