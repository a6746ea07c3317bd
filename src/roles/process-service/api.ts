import * as v from "valibot";
import { JsonObjectSchema, KeySchema } from "../../domain/forms/index.ts";
import { cursorPageOf, pageOf } from "../../domain/page.ts";
import { HISTORY_ACTIONS, INSTANCE_STATUSES, PRIORITIES, ProcessDefinitionSchema } from "../../domain/process/index.ts";
import type { ApiRoute } from "../../platform/openapi.ts";
import {
  CancelBodySchema,
  CompleteBodySchema,
  GetDefinitionQuerySchema,
  InstanceIdSchema,
  ListDefinitionsQuerySchema,
  ListInstancesQuerySchema,
  StartBodySchema,
  VersionSchema,
} from "./model.ts";

const integer = v.pipe(v.number(), v.integer());
const timestamp = v.pipe(v.string(), v.isoTimestamp());

export const DefinitionSchema = v.object({
  key: v.string(),
  version: integer,
  name: v.string(),
  created_at: timestamp,
  steps: v.array(
    v.object({
      id: v.string(),
      name: v.string(),
      form_key: v.string(),
      form_version: v.optional(integer),
      assignee: v.string(),
      transitions: v.array(v.object({ condition: v.string(), target: v.string() })),
      default_next: v.optional(v.string()),
      priority: v.picklist(PRIORITIES),
    }),
  ),
  end_states: v.array(v.object({ id: v.string(), name: v.string() })),
});

export const InstanceSchema = v.object({
  id: v.string(),
  definition_key: v.string(),
  definition_version: integer,
  status: v.picklist(INSTANCE_STATUSES),
  current_step: v.nullable(v.string()),
  current_assignee: v.nullable(integer),
  end_state: v.nullable(v.string()),
  variables: JsonObjectSchema,
  history: v.array(
    v.object({
      step_id: v.string(),
      action: v.picklist(HISTORY_ACTIONS),
      user_id: integer,
      at: timestamp,
      data: v.optional(JsonObjectSchema),
      submission_id: v.optional(v.string()),
      note: v.optional(v.string()),
    }),
  ),
  started_by: integer,
  created_at: timestamp,
  updated_at: timestamp,
  revision: integer,
});

const Deployed = v.object({ definition: DefinitionSchema, created: v.boolean() });
const IdempotencyKey = v.pipe(v.string(), v.maxLength(200));
// "instances" is a route of its own (/api/processes/instances), never a key
const key = { key: KeySchema };
const instanceId = { id: InstanceIdSchema };

const deployedLinks = {
  GetDefinition: { operationId: "getProcess", parameters: { key: "$response.body#/definition/key" } },
  GetDefinitionVersion: { operationId: "getProcessVersion", parameters: { key: "$response.body#/definition/key", version: "$response.body#/definition/version" } },
  ListVersions: { operationId: "listProcessVersions", parameters: { key: "$response.body#/definition/key" } },
  Start: { operationId: "startProcess", parameters: { key: "$response.body#/definition/key" }, requestBody: { definition_version: "$response.body#/definition/version" }, description: "start an instance of the version just deployed" },
};
const instanceLinks = {
  GetInstance: { operationId: "getInstance", parameters: { id: "$response.body#/id" } },
  Complete: { operationId: "completeStep", parameters: { id: "$response.body#/id" }, requestBody: { step_id: "$response.body#/current_step" }, description: "complete the step now waiting" },
  Cancel: { operationId: "cancelInstance", parameters: { id: "$response.body#/id" } },
};

/**
 * The public process API (served by process-service, reached through the gateway). A deployment
 * is also checked as a graph and against the forms its steps name, so a well-formed body can still
 * get 400; completing a step validates its data against the step's form (422).
 */
export const PROCESS_API: readonly ApiRoute[] = [
  {
    method: "post", path: "/api/processes", operationId: "deployProcess", tag: "processes",
    summary: "Deploy a process definition (designers and admins): a new version when it differs from the latest, else the latest (200)",
    body: ProcessDefinitionSchema, errors: [403, 502, 503, 504],
    responses: [
      { status: 201, description: "a new version", schema: Deployed, links: deployedLinks },
      { status: 200, description: "the same as the latest version: nothing deployed", schema: Deployed, links: deployedLinks },
    ],
  },
  { method: "get", path: "/api/processes", operationId: "listProcesses", tag: "processes", summary: "List definitions (the latest version of each; with `key`, that one's versions), paginated", query: ListDefinitionsQuerySchema, responses: [{ status: 200, description: "one page", schema: pageOf(DefinitionSchema) }] },
  { method: "get", path: "/api/processes/instances", operationId: "listInstances", tag: "processes", summary: "List instances newest first, filtered; page with cursor (next_cursor), offset is the slow path; total per count= (capped at 1,000 by default)", query: ListInstancesQuerySchema, responses: [{ status: 200, description: "one page", schema: cursorPageOf(InstanceSchema) }] },
  { method: "get", path: "/api/processes/instances/{id}", operationId: "getInstance", tag: "processes", summary: "Get an instance", pathParams: instanceId, responses: [{ status: 200, description: "the instance", schema: InstanceSchema }] },
  {
    method: "post", path: "/api/processes/instances/{id}/complete", operationId: "completeStep", tag: "processes",
    summary: "Complete the current step as its assignee, with data for the step's form", pathParams: instanceId, body: CompleteBodySchema,
    errors: [401, 403, 409, 422, 502, 503, 504],
    responses: [{ status: 200, description: "the instance after the step", schema: InstanceSchema, links: { GetInstance: instanceLinks.GetInstance, Complete: instanceLinks.Complete } }],
  },
  {
    method: "post", path: "/api/processes/instances/{id}/cancel", operationId: "cancelInstance", tag: "processes",
    summary: "Cancel a running instance (its starter, current assignee or an admin)", pathParams: instanceId, body: CancelBodySchema, bodyOptional: true, errors: [401, 403, 409],
    responses: [{ status: 200, description: "the cancelled instance", schema: InstanceSchema }],
  },
  { method: "get", path: "/api/processes/{key}", operationId: "getProcess", tag: "processes", summary: "Get a definition (the latest version, or `version`)", pathParams: key, query: GetDefinitionQuerySchema, responses: [{ status: 200, description: "the definition", schema: DefinitionSchema }] },
  { method: "get", path: "/api/processes/{key}/versions", operationId: "listProcessVersions", tag: "processes", summary: "List a definition's versions, newest first", pathParams: key, query: v.omit(ListDefinitionsQuerySchema, ["key"]), responses: [{ status: 200, description: "one page", schema: pageOf(DefinitionSchema) }] },
  { method: "get", path: "/api/processes/{key}/versions/{version}", operationId: "getProcessVersion", tag: "processes", summary: "Get one version of a definition (0 = the latest)", pathParams: { ...key, version: VersionSchema }, responses: [{ status: 200, description: "the definition", schema: DefinitionSchema }] },
  {
    method: "post", path: "/api/processes/{key}/instances", operationId: "startProcess", tag: "processes",
    summary: "Start an instance (an Idempotency-Key makes a repeat return the first instance, 200)",
    pathParams: key, headers: { "Idempotency-Key": IdempotencyKey }, body: StartBodySchema, bodyOptional: true, errors: [401, 403, 409],
    responses: [
      { status: 201, description: "started", schema: InstanceSchema, links: instanceLinks },
      { status: 200, description: "an earlier start with the same idempotency key", schema: InstanceSchema, links: instanceLinks },
    ],
  },
];
