import * as v from "valibot";
import type { ApiRoute } from "../../platform/openapi.ts";
import { PageTotalSchema } from "../paging/count.ts";
import { CreateTaskSchema, ListTasksQuerySchema, PRIORITIES, STATUSES, UpdateTaskSchema } from "./model.ts";

export const TaskSchema = v.object({
  id: v.number(),
  title: v.string(),
  description: v.string(),
  priority: v.picklist(PRIORITIES),
  status: v.picklist(STATUSES),
  user_id: v.number(),
  project_id: v.number(),
  process_instance_id: v.string(),
  step_id: v.string(),
  created_at: v.string(),
  updated_at: v.string(),
});

/** A page of a list: `next_cursor` (null on the last page) is the next request's `cursor`. */
export const TaskPage = v.object({
  items: v.array(TaskSchema),
  next_cursor: v.nullable(v.string()),
  ...PageTotalSchema,
  limit: v.number(),
  offset: v.number(),
});
const Deleted = v.object({ success: v.boolean(), message: v.string() });
const SubscribeQuery = v.object({ user_id: v.optional(v.string()), task_ids: v.optional(v.string()) });

/** The public task API (served by task-service, reached through the gateway). */
export const TASK_API: readonly ApiRoute[] = [
  { method: "post", path: "/api/tasks", tag: "tasks", summary: "Create a task (Idempotency-Key header makes a repeat return the first task)", body: CreateTaskSchema, response: { status: 201, schema: TaskSchema } },
  { method: "get", path: "/api/tasks", tag: "tasks", summary: "List tasks, filtered by user, status, process instance or project, in id order; page with cursor (next_cursor), offset is the slow path; total per count= (capped at 1,000 by default)", query: ListTasksQuerySchema, response: { status: 200, schema: TaskPage } },
  { method: "get", path: "/api/tasks/stream", tag: "tasks", summary: "Live created/updated/deleted events (server-sent events)", query: SubscribeQuery, response: { status: 200, contentType: "text/event-stream", description: "an SSE stream" } },
  { method: "get", path: "/api/tasks/{id}", tag: "tasks", summary: "Get a task", pathParams: { id: "task id" }, response: { status: 200, schema: TaskSchema } },
  { method: "patch", path: "/api/tasks/{id}", tag: "tasks", summary: "Update some fields of a task", pathParams: { id: "task id" }, body: UpdateTaskSchema, response: { status: 200, schema: TaskSchema } },
  { method: "delete", path: "/api/tasks/{id}", tag: "tasks", summary: "Delete a task", pathParams: { id: "task id" }, response: { status: 200, schema: Deleted } },
];
