import { Elysia } from "elysia";
import { IDENTITY_ADMIN_HEADER, IDENTITY_HEADER } from "../../platform/auth.ts";
import { CORRELATION_HEADER } from "../../platform/http.ts";
import { parseInput } from "../../platform/http.ts";
import { readDeadline } from "../../resilience/deadline.ts";
import type { GrpcCallOptions } from "../../transport/grpc-client.ts";
import {
  CancelBodySchema,
  CompleteBodySchema,
  GetDefinitionQuerySchema,
  ListDefinitionsQuerySchema,
  ListInstancesQuerySchema,
  StartBodySchema,
  UserIdSchema,
  VersionSchema,
} from "./model.ts";
import type { Actor, ProcessService } from "./service.ts";
import { UnauthorizedError } from "../../platform/errors.ts";

const objectBody = (body: unknown): Record<string, unknown> => (body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {});

/**
 * The user the gateway verified (x-bpm-user-id); without the gateway (auth off, direct calls)
 * the body may name one. 401 when neither does.
 */
function actorOf(headers: Headers, named: number | undefined, what: string): Actor {
  const verified = headers.get(IDENTITY_HEADER);
  if (verified !== null) return { userId: parseInput(UserIdSchema, verified, IDENTITY_HEADER), admin: headers.get(IDENTITY_ADMIN_HEADER) === "true" };
  if (named !== undefined) return { userId: named };
  throw new UnauthorizedError(`${what} needs a user: sign in through the gateway, or send ${what === "start" ? "started_by" : "user_id"}`);
}

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
      const { definition, created } = await processes.deploy(body, callOptions(request));
      set.status = created ? 201 : 200;
      set.headers.location = `/api/processes/${definition.key}/versions/${definition.version}`;
      return { definition, created };
    })
    .get("/api/processes", async ({ query }) => {
      const q = parseInput(ListDefinitionsQuerySchema, query, "query");
      const [items, total] = await Promise.all([processes.listDefinitions(q), processes.countDefinitions(q)]);
      return { items, total, limit: q.limit, offset: q.offset };
    })
    .get("/api/processes/instances", async ({ query }) => {
      return processes.pageInstances(parseInput(ListInstancesQuerySchema, query, "query"));
    })
    .get("/api/processes/instances/:id", ({ params }) => processes.getInstance(params.id))
    .post("/api/processes/instances/:id/complete", async ({ params, body, request }) => {
      const input = parseInput(CompleteBodySchema, objectBody(body), "request body");
      const actor = actorOf(request.headers, input.user_id, "complete");
      return processes.complete({ instanceId: params.id, stepId: input.step_id, actor, data: input.data }, callOptions(request));
    })
    .post("/api/processes/instances/:id/cancel", async ({ params, body, request }) => {
      const input = parseInput(CancelBodySchema, objectBody(body), "request body");
      return processes.cancel({ instanceId: params.id, actor: actorOf(request.headers, input.user_id, "cancel"), reason: input.reason });
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
      const actor = actorOf(request.headers, input.started_by, "start");
      const { instance, created } = await processes.start({
        key: params.key,
        version: input.definition_version,
        variables: input.variables,
        startedBy: actor.userId,
        idempotencyKey: input.idempotency_key ?? request.headers.get("idempotency-key") ?? undefined,
      });
      set.status = created ? 201 : 200;
      set.headers.location = `/api/processes/instances/${instance.id}`;
      return instance;
    });
}
