import * as v from "valibot";
import { countLimit, pageTotal, type PageTotal } from "../../domain/paging/count.ts";
import { decodeIntCursor, encodeCursor } from "../../domain/paging/cursor.ts";
import { cutPage } from "../../domain/paging/page.ts";
import { NotFoundError, ValidationError } from "../../platform/errors.ts";
import { parseInput } from "../../platform/http.ts";
import { TaskEventBus, type TaskSubscription } from "./events.ts";
import { CreateTaskSchema, UpdateTaskSchema, TaskIdSchema, type ListTasksQuery, type Task, type TaskEvent, type TaskEventType, type TaskFilter, type TaskMatch } from "../../domain/tasks/model.ts";
import type { TaskStore } from "./store.ts";

/** Cursors of the task list name it, so another list's cursor is refused. */
const TASK_CURSOR = "tasks";

/** One page of the task list, as `GET /api/tasks` answers it. */
export type TaskPage = { items: Task[]; next_cursor: string | null } & PageTotal & { limit: number; offset: number };

/** Task use cases shared by the REST and gRPC edges; both validate with the same schemas. */
export class TaskService {
  readonly events: TaskEventBus;

  constructor(private readonly store: TaskStore, events?: TaskEventBus, private readonly publishLocal = true) {
    this.events = events ?? new TaskEventBus();
  }

  async create(input: unknown): Promise<{ task: Task; created: boolean }> {
    const data = parseInput(CreateTaskSchema, input, "task");
    const result = await this.store.create(data, new Date().toISOString());
    if (result.created) this.emit("created", result.task);
    return result;
  }

  async get(id: unknown): Promise<Task> {
    const taskId = parseInput(TaskIdSchema, id, "task id");
    const task = await this.store.get(taskId);
    if (!task) throw new NotFoundError(`task ${taskId} not found`);
    return task;
  }

  async update(id: unknown, patch: unknown): Promise<Task> {
    const taskId = parseInput(TaskIdSchema, id, "task id");
    const data = parseInput(UpdateTaskSchema, patch, "task update");
    const task = await this.store.update(taskId, data, new Date().toISOString());
    if (!task) throw new NotFoundError(`task ${taskId} not found`);
    this.emit("updated", task);
    return task;
  }

  async delete(id: unknown): Promise<Task> {
    const taskId = parseInput(TaskIdSchema, id, "task id");
    const task = await this.store.delete(taskId);
    if (!task) throw new NotFoundError(`task ${taskId} not found`);
    this.emit("deleted", task);
    return task;
  }

  list(filter: TaskFilter): AsyncIterable<Task> {
    return this.store.list(filter);
  }

  count(filter: TaskMatch, upTo?: number): Promise<number> {
    return this.store.count(filter, upTo);
  }

  /**
   * One page: the matches after `cursor` (or, the slow path, after skipping `offset`), `next_cursor`
   * when more follow (one extra row is read to know), and `total` as `count` asks.
   */
  async page(q: ListTasksQuery): Promise<TaskPage> {
    const offset = q.offset ?? 0;
    if (q.cursor !== undefined && offset > 0) {
      throw new ValidationError("invalid query: offset cannot be combined with cursor (the cursor already says where the page starts)", [{ field: "offset", message: "cannot be combined with cursor" }]);
    }
    const match: TaskMatch = { user_id: q.user_id, status: q.status, process_instance_id: q.process_instance_id, project_id: q.project_id };
    const after_id = q.cursor === undefined ? undefined : this.cursorPosition(q.cursor, "cursor");
    const rows: Task[] = [];
    for await (const t of this.store.list({ ...match, after_id, limit: q.limit + 1, offset })) rows.push(t);
    const upTo = countLimit(q.count);
    const counted = upTo === 0 ? undefined : await this.store.count(match, upTo);
    return { ...cutPage(rows, q.limit, (t) => this.cursorAfter(t)), ...pageTotal(q.count, counted), limit: q.limit, offset };
  }

  /** The cursor of the page that follows `last`. */
  cursorAfter(last: Task): string {
    return encodeCursor(TASK_CURSOR, last.id);
  }

  /** The id a cursor continues after; a 400 naming `field` when it is not a task list cursor. */
  cursorPosition(cursor: string, field: string): number {
    return decodeIntCursor(TASK_CURSOR, cursor, field);
  }

  subscribe(filter: TaskSubscription, fn: (e: TaskEvent) => void): () => void {
    return this.events.subscribe(filter, fn);
  }

  private emit(type: TaskEventType, task: Task): void {
    // with a shared database, replicas learn of writes through the store's notifications instead
    if (this.publishLocal) this.events.publish({ event_type: type, task, timestamp: new Date().toISOString() });
  }
}

export const isValidTaskId = (x: unknown) => v.is(TaskIdSchema, x);
