import { Elysia } from "elysia";
import { CORRELATION_HEADER, idempotencyKeyFrom, objectBody, parseInput } from "../../platform/http.ts";
import { principalFrom } from "../../platform/request-auth.ts";
import { readDeadline } from "../../resilience/deadline.ts";
import type { GrpcCallOptions } from "../../transport/grpc-client.ts";
import {
  CancelBodySchema,
  CompleteBodySchema,
  GetDefinitionQuerySchema,
  ListDefinitionsQuerySchema,
  ListInstancesQuerySchema,
  StartBodySchema,
  VersionSchema,
} from "./model.ts";
import type { ProcessService } from "./service.ts";

/** The caller's deadline and correlation id, carried on to form-service. */
function callOptions(request: Request): GrpcCallOptions {
  return { deadline: readDeadline(request.headers), correlationId: request.headers.get(CORRELATION_HEADER) ?? undefined };
}

/**
 * REST edge of process-service: the same use cases as gRPC, JSON with proto field names.
 * /api/processes[/:key] are definitions; /api/processes/instances[/:id] are instances.
 */
export function processRoutes(processes: ProcessService) {
  return new Elysia({ name: "process-routes" })
    .post("/api/processes", async ({ body, request, set }) => {
      const { definition, created } = await processes.deploy(principalFrom(request), body, callOptions(request));
      set.status = created ? 201 : 200;
      set.headers.location = `/api/processes/${definition.key}/versions/${definition.version}`;
      return { definition, created };
    })
    .get("/api/processes", async ({ query }) => {
      const q = parseInput(ListDefinitionsQuerySchema, query, "query");
      const [items, total] = await Promise.all([processes.listDefinitions(q), processes.countDefinitions(q)]);
      return { items, total, limit: q.limit, offset: q.offset };
    })
    .get("/api/processes/instances", async ({ query, request }) => {
      return processes.pageInstances(principalFrom(request), parseInput(ListInstancesQuerySchema, query, "query"));
    })
    .get("/api/processes/instances/:id", ({ params, request }) => processes.getInstance(principalFrom(request), params.id))
    .post("/api/processes/instances/:id/complete", async ({ params, body, request }) => {
      const input = parseInput(CompleteBodySchema, objectBody(body), "request body");
      return processes.complete(principalFrom(request), { instanceId: params.id, stepId: input.step_id, userId: input.user_id, data: input.data }, callOptions(request));
    })
    .post("/api/processes/instances/:id/cancel", async ({ params, body, request }) => {
      const input = parseInput(CancelBodySchema, objectBody(body), "request body");
      return processes.cancel(principalFrom(request), { instanceId: params.id, userId: input.user_id, reason: input.reason });
    })
    .get("/api/processes/:key", async ({ params, query }) => {
      const { version } = parseInput(GetDefinitionQuerySchema, query, "query");
      return processes.getDefinition(params.key, version);
    })
    .get("/api/processes/:key/versions", async ({ params, query }) => {
      await processes.getDefinition(params.key); // 404 for an unknown process rather than an empty list
      const q = parseInput(ListDefinitionsQuerySchema, { ...query, key: params.key }, "query");
      const [items, total] = await Promise.all([processes.listDefinitions(q), processes.countDefinitions(q)]);
      return { items, total, limit: q.limit, offset: q.offset };
    })
    .get("/api/processes/:key/versions/:version", ({ params }) => processes.getDefinition(params.key, parseInput(VersionSchema, params.version, "version")))
    .post("/api/processes/:key/instances", async ({ params, body, request, set }) => {
      const input = parseInput(StartBodySchema, objectBody(body), "request body");
      const { instance, created } = await processes.start(principalFrom(request), {
        key: params.key,
        version: input.definition_version,
        variables: input.variables,
        startedBy: input.started_by,
        idempotencyKey: input.idempotency_key || idempotencyKeyFrom(request.headers),
      });
      set.status = created ? 201 : 200;
      set.headers.location = `/api/processes/instances/${instance.id}`;
      return instance;
    });
}
