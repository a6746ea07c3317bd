import * as v from "valibot";
import { countLimit, pageTotal, type PageTotal } from "../../domain/paging/count.ts";
import { TASK_CURSOR } from "../../domain/paging/cursor.ts";
import { cutPage } from "../../domain/paging/page.ts";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../../platform/errors.ts";
import { actingUser, actsForAnyone, mayRead, seesAll, type Principal } from "../../platform/principal.ts";
import { parseInput } from "../../platform/http.ts";
import { TaskEventBus, type TaskSubscription } from "./events.ts";
import { CreateTaskSchema, UpdateTaskSchema, TaskIdSchema, type ListTasksQuery, type Task, type TaskEvent, type TaskEventType, type TaskFilter, type TaskMatch } from "../../domain/tasks/model.ts";
import type { TaskStore } from "./store.ts";

/** No user has this id: a filter that matches nothing. */
const NOBODY = -1;

/** One page of the task list, as `GET /api/tasks` answers it. */
export type TaskPage = { items: Task[]; next_cursor: string | null } & PageTotal & { limit: number; offset: number };

/**
 * Task use cases shared by the REST and gRPC edges; both validate with the same schemas. Every
 * use case takes the caller: a user sees and changes only tasks whose user_id is theirs (another
 * user's task answers 404, as if it did not exist); admins and services see all (docs/security.md).
 */
export class TaskService {
  readonly events: TaskEventBus;

  constructor(private readonly store: TaskStore, events?: TaskEventBus, private readonly publishLocal = true) {
    this.events = events ?? new TaskEventBus();
  }

  /** A user creates tasks for themself (user_id defaults to theirs); for someone else needs admin or a service. */
  async create(caller: Principal, input: unknown): Promise<{ task: Task; created: boolean }> {
    const body = input !== null && typeof input === "object" && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
    if (!actsForAnyone(caller) && body.user_id === undefined && caller.userId !== undefined) input = { ...body, user_id: caller.userId };
    const data = parseInput(CreateTaskSchema, input, "task");
    data.user_id = actingUser(caller, data.user_id, "creating a task");
    const result = await this.store.create(data, new Date().toISOString());
    // an idempotency key is not a way to read someone else's task
    if (!result.created && result.task.user_id !== data.user_id) throw new ConflictError("this idempotency key was used for another task", "IDEMPOTENCY_KEY_IN_USE");
    if (result.created) this.emit("created", result.task);
    return result;
  }

  async get(caller: Principal, id: unknown): Promise<Task> {
    const taskId = parseInput(TaskIdSchema, id, "task id");
    const task = await this.store.get(taskId);
    if (!task || !mayRead(caller, task.user_id)) throw new NotFoundError(`task ${taskId} not found`);
    return task;
  }

  async update(caller: Principal, id: unknown, patch: unknown): Promise<Task> {
    const taskId = parseInput(TaskIdSchema, id, "task id");
    const data = parseInput(UpdateTaskSchema, patch, "task update");
    await this.get(caller, taskId);
    if (data.user_id !== undefined && !actsForAnyone(caller) && data.user_id !== caller.userId) throw new ForbiddenError("giving a task to another user needs an admin or service credential");
    const task = await this.store.update(taskId, data, new Date().toISOString());
    if (!task) throw new NotFoundError(`task ${taskId} not found`);
    this.emit("updated", task);
    return task;
  }

  async delete(caller: Principal, id: unknown): Promise<Task> {
    const taskId = parseInput(TaskIdSchema, id, "task id");
    await this.get(caller, taskId);
    const task = await this.store.delete(taskId);
    if (!task) throw new NotFoundError(`task ${taskId} not found`);
    this.emit("deleted", task);
    return task;
  }

  /** Lists carry only the caller's tasks unless they see all; naming another user's id finds nothing. */
  list(caller: Principal, filter: TaskFilter): AsyncIterable<Task> {
    return this.store.list(ownTasks(caller, filter));
  }

  count(caller: Principal, filter: TaskMatch, upTo?: number): Promise<number> {
    return this.store.count(ownTasks(caller, filter), upTo);
  }

  /**
   * One page of the caller's list: the matches after `cursor`, less the first `offset` (the slow
   * path, O(offset)), `next_cursor` when more follow (one extra row is read to know), `total` as `count` asks.
   */
  async page(caller: Principal, q: ListTasksQuery): Promise<TaskPage> {
    const offset = q.offset ?? 0;
    const match = ownTasks<TaskMatch>(caller, { user_id: q.user_id, status: q.status, process_instance_id: q.process_instance_id, project_id: q.project_id });
    const after_id = q.cursor === undefined ? undefined : this.cursorPosition(q.cursor, "cursor");
    const upTo = countLimit(q.count);
    // page and count at once: two round trips in parallel on PostgreSQL
    const [rows, counted] = await Promise.all([collect(this.store.list({ ...match, after_id, limit: q.limit + 1, offset })), upTo === 0 ? undefined : this.store.count(match, upTo)]);
    return { ...cutPage(rows, q.limit, (t) => this.cursorAfter(t)), ...pageTotal(q.count, counted), limit: q.limit, offset };
  }

  /** The cursor of the page that follows `last`. */
  cursorAfter(last: Task): string {
    return TASK_CURSOR.encode(last.id);
  }

  /** The id a cursor continues after; a 400 naming `field` when it is not a task list cursor. */
  cursorPosition(cursor: string, field: string): number {
    const id = TASK_CURSOR.decode(cursor);
    if (id === undefined) throw new ValidationError(`invalid ${field}: must be the next_cursor of a previous page`, [{ field, message: "must be the next_cursor of a previous page" }]);
    return id;
  }

  /** Both streams (SSE, StreamTaskUpdates) carry only the caller's tasks unless they see all. */
  subscribe(caller: Principal, filter: TaskSubscription, fn: (e: TaskEvent) => void): () => void {
    return this.events.subscribe(ownTasks(caller, filter, "userId"), fn);
  }

  private emit(type: TaskEventType, task: Task): void {
    // with a shared database, replicas learn of writes through the store's notifications instead
    if (this.publishLocal) this.events.publish({ event_type: type, task, timestamp: new Date().toISOString() });
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** The filter narrowed to the caller's own user id (the store's user_id filter), unless they see all. */
function ownTasks<F extends object>(caller: Principal, filter: F, field: keyof F | "user_id" = "user_id"): F {
  if (seesAll(caller)) return filter;
  const named = (filter as Record<string, unknown>)[field as string];
  const own = caller.userId ?? NOBODY;
  return { ...filter, [field]: named === undefined || named === own ? own : NOBODY };
}

export const isValidTaskId = (x: unknown) => v.is(TaskIdSchema, x);
