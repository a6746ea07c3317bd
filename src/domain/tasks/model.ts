import * as v from "valibot";
import { INT32_MAX, intParam, NOT_BLANK } from "../params.ts";
import { CountModeSchema } from "../paging/count.ts";
import { cursorParam, TASK_CURSOR } from "../paging/cursor.ts";

export const PRIORITIES = ["low", "medium", "high", "critical"] as const;
export const STATUSES = ["todo", "in_progress", "blocked", "done", "cancelled"] as const;
export type Priority = (typeof PRIORITIES)[number];
export type Status = (typeof STATUSES)[number];

const userId = v.pipe(v.number("must be an integer user id"), v.integer("must be an integer user id"), v.minValue(1, "must be a positive integer user id"), v.maxValue(INT32_MAX, "must fit in int32"));
const projectId = v.pipe(v.number("must be an integer project id"), v.integer("must be an integer project id"), v.minValue(0, "must not be negative"), v.maxValue(INT32_MAX, "must fit in int32"));
// checked before trimming, so the documented limits (maxLength, a non-blank pattern) are exactly what is refused
const title = v.pipe(v.string("must be a string"), v.maxLength(500, "must be at most 500 characters"), v.regex(NOT_BLANK, "is required"), v.trim());
const description = v.pipe(v.string("must be a string"), v.maxLength(4 * 1024 * 1024, "must be at most 4 MiB"));
const priority = v.picklist(PRIORITIES, `must be one of ${PRIORITIES.join(", ")}`);
const status = v.picklist(STATUSES, `must be one of ${STATUSES.join(", ")}`);
const shortText = (max: number) => v.pipe(v.string("must be a string"), v.maxLength(max, `must be at most ${max} characters`));

export const CreateTaskSchema = v.object({
  title,
  description: v.optional(description, ""),
  priority: v.optional(priority, "medium"),
  status: v.optional(status, "todo"),
  user_id: userId,
  project_id: v.optional(projectId, 0),
  process_instance_id: v.optional(shortText(200), ""),
  step_id: v.optional(shortText(200), ""),
  // "" is no key (proto3's unset string), never a key shared by every such request
  idempotency_key: v.optional(v.pipe(shortText(200), v.transform((k) => k || undefined))),
});
export type CreateTask = v.InferOutput<typeof CreateTaskSchema>;

export const UpdateTaskSchema = v.object({
  title: v.optional(title),
  description: v.optional(description),
  priority: v.optional(priority),
  status: v.optional(status),
  user_id: v.optional(userId),
});
export type UpdateTask = v.InferOutput<typeof UpdateTaskSchema>;


export const MAX_PAGE = 1000;

/**
 * `GET /api/tasks` (and ListTasks' fields). Pages follow `cursor` (the previous page's `next_cursor`):
 * each page costs the same however deep it is. `offset` is the seed's slow path, O(offset) per page,
 * kept for old clients; with a cursor it skips rows after the cursor.
 */
export const ListTasksQuerySchema = v.object({
  user_id: v.optional(intParam("a positive integer user id", 1, INT32_MAX)),
  status: v.optional(status),
  process_instance_id: v.optional(shortText(200)),
  /** 0 is a task's "no project" (proto3's unset, as gRPC ListTasks reads it): no project filter. */
  project_id: v.optional(intParam("a non-negative integer project id", 0, INT32_MAX)),
  limit: v.optional(intParam(`an integer in 1..${MAX_PAGE}`, 1, MAX_PAGE), 50),
  /** Rows to skip first: the seed's paging, O(offset); prefer `cursor`. */
  offset: v.optional(intParam("a non-negative integer", 0, INT32_MAX)),
  /** Opaque: the `next_cursor` of the previous page, with the same filters. */
  cursor: v.optional(cursorParam(TASK_CURSOR)),
  count: CountModeSchema,
});
/** GET /api/tasks/stream: which events to receive. */
export const SubscribeQuerySchema = v.object({
  user_id: v.optional(v.pipe(v.string(), v.regex(/^\d{1,10}$/, "must be a positive integer user id"), v.transform(Number))),
  task_ids: v.optional(
    v.pipe(v.string(), v.regex(/^\d{1,10}(,\d{1,10})*$/, "must be a comma-separated list of task ids"), v.transform((s) => s.split(",").map(Number))),
  ),
});

export type ListTasksQuery = v.InferOutput<typeof ListTasksQuerySchema>;

/** What the stores filter on; every field is a plain filter (an edge may set user_id from the caller's identity). */
export interface TaskFilter {
  user_id?: number;
  status?: Status;
  process_instance_id?: string;
  project_id?: number;
  /** Keyset position: only tasks with a larger id (the cursor's key). */
  after_id?: number;
  /** undefined → no limit (gRPC streams every match). */
  limit?: number;
  offset: number;
}

/** The filter fields that say which tasks match (what `count` counts). */
export type TaskMatch = Omit<TaskFilter, "limit" | "offset" | "after_id">;

/** A task as stored and as it goes on the wire (proto field names). */
export interface Task {
  id: number;
  title: string;
  description: string;
  priority: Priority;
  status: Status;
  user_id: number;
  project_id: number;
  process_instance_id: string;
  step_id: string;
  created_at: string;
  updated_at: string;
}

export type TaskEventType = "created" | "updated" | "deleted";
export interface TaskEvent {
  event_type: TaskEventType;
  task: Task;
  timestamp: string;
}

export const TaskIdSchema = intParam("a positive integer task id", 1, INT32_MAX);
