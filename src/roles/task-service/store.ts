import type { CreateTask, Task, TaskFilter, TaskMatch, UpdateTask } from "../../domain/tasks/model.ts";
import type { StoreSpans } from "../../telemetry/storage-spans.ts";

/** Where tasks live. Writes resolve only after they are durable. */
export interface TaskStore {
  /** Returns the task and whether it was created now (false: an earlier create with the same idempotency key). */
  create(input: CreateTask, now: string): Promise<{ task: Task; created: boolean }>;
  get(id: number): Promise<Task | undefined>;
  /** undefined when no task has this id. */
  update(id: number, patch: UpdateTask, now: string): Promise<Task | undefined>;
  delete(id: number): Promise<Task | undefined>;
  /**
   * Matching tasks in id order (after `after_id` when given), read page by page; every filter is
   * served by an index in id order, so a page costs O(its rows) however many tasks match.
   */
  list(filter: TaskFilter): AsyncIterable<Task>;
  /** How many tasks match, counting at most `upTo` when given (a bounded count). */
  count(filter: TaskMatch, upTo?: number): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** One storage span per call (both engines name the table `tasks`); ping and close are not traced. */
export const TASK_STORE_SPANS: StoreSpans<TaskStore> = {
  create: ["INSERT", "tasks"],
  get: ["SELECT", "tasks"],
  update: ["UPDATE", "tasks"],
  delete: ["DELETE", "tasks"],
  list: ["SELECT", "tasks"],
  count: ["SELECT", "tasks"],
};
