import * as v from "valibot";
import type { ApiRoute } from "../../platform/openapi.ts";
import { cursorPageOf } from "../../domain/page.ts";
import { CreateTaskSchema, ListTasksQuerySchema, PRIORITIES, STATUSES, SubscribeQuerySchema, TaskIdSchema, UpdateTaskSchema } from "../../domain/tasks/model.ts";

const integer = v.pipe(v.number(), v.integer());

export const TaskSchema = v.object({
  id: integer,
  title: v.string(),
  description: v.string(),
  priority: v.picklist(PRIORITIES),
  status: v.picklist(STATUSES),
  user_id: integer,
  project_id: integer,
  process_instance_id: v.string(),
  step_id: v.string(),
  created_at: v.pipe(v.string(), v.isoTimestamp()),
  updated_at: v.pipe(v.string(), v.isoTimestamp()),
});

const Deleted = v.object({ success: v.boolean(), message: v.string() });
const IdempotencyKey = v.pipe(v.string(), v.maxLength(200));

const byId = { id: "$response.body#/id" };
const taskLinks = {
  GetTask: { operationId: "getTask", parameters: byId, description: "the task just written" },
  UpdateTask: { operationId: "updateTask", parameters: byId },
  ReplaceTask: { operationId: "replaceTask", parameters: byId },
  DeleteTask: { operationId: "deleteTask", parameters: byId },
};
const id = { id: TaskIdSchema };

/** The public task API (served by task-service, reached through the gateway). */
export const TASK_API: readonly ApiRoute[] = [
  {
    method: "post", path: "/api/tasks", operationId: "createTask", tag: "tasks",
    summary: "Create a task (an Idempotency-Key header or field makes a repeat return the first task, 200)",
    headers: { "Idempotency-Key": IdempotencyKey },
    body: CreateTaskSchema, errors: [403, 409],
    responses: [
      { status: 201, description: "created", schema: TaskSchema, links: taskLinks },
      { status: 200, description: "an earlier create with the same idempotency key", schema: TaskSchema, links: taskLinks },
    ],
  },
  { method: "get", path: "/api/tasks", operationId: "listTasks", tag: "tasks", summary: "List tasks in id order, filtered by user, status, process instance or project; page with cursor (next_cursor), offset is the slow path; total per count= (capped at 1,000 by default)", query: ListTasksQuerySchema, responses: [{ status: 200, description: "one page", schema: cursorPageOf(TaskSchema) }] },
  {
    method: "get", path: "/api/tasks/stream", operationId: "streamTasks", tag: "tasks",
    summary: "Live created/updated/deleted events (server-sent events; `id:` is the task id)",
    query: SubscribeQuerySchema,
    responses: [{ status: 200, description: "an event stream that stays open", contentType: "text/event-stream" }],
  },
  { method: "get", path: "/api/tasks/{id}", operationId: "getTask", tag: "tasks", summary: "Get a task", pathParams: id, responses: [{ status: 200, description: "the task", schema: TaskSchema }] },
  { method: "patch", path: "/api/tasks/{id}", operationId: "updateTask", tag: "tasks", summary: "Change some fields of a task", pathParams: id, body: UpdateTaskSchema, errors: [403], responses: [{ status: 200, description: "the task as changed", schema: TaskSchema }] },
  { method: "put", path: "/api/tasks/{id}", operationId: "replaceTask", tag: "tasks", summary: "Change the given fields of a task (as PATCH: fields left out keep their value)", pathParams: id, body: UpdateTaskSchema, errors: [403], responses: [{ status: 200, description: "the task as changed", schema: TaskSchema }] },
  { method: "delete", path: "/api/tasks/{id}", operationId: "deleteTask", tag: "tasks", summary: "Delete a task", pathParams: id, responses: [{ status: 200, description: "deleted", schema: Deleted }] },
];
