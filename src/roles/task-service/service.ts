import * as v from "valibot";
import { ConflictError, ForbiddenError, NotFoundError } from "../../platform/errors.ts";
import { actingUser, actsForAnyone, mayRead, seesAll, type Principal } from "../../platform/principal.ts";
import { parseInput } from "../../platform/http.ts";
import { TaskEventBus, type TaskSubscription } from "./events.ts";
import { CreateTaskSchema, UpdateTaskSchema, TaskIdSchema, type Task, type TaskEvent, type TaskEventType, type TaskFilter } from "../../domain/tasks/model.ts";
import type { TaskStore } from "./store.ts";

/** No user has this id: a filter that matches nothing. */
const NOBODY = -1;

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

  count(caller: Principal, filter: Omit<TaskFilter, "limit" | "offset">): Promise<number> {
    return this.store.count(ownTasks(caller, filter));
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

/** The filter narrowed to the caller's own user id (the store's user_id filter), unless they see all. */
function ownTasks<F extends object>(caller: Principal, filter: F, field: keyof F | "user_id" = "user_id"): F {
  if (seesAll(caller)) return filter;
  const named = (filter as Record<string, unknown>)[field as string];
  const own = caller.userId ?? NOBODY;
  return { ...filter, [field]: named === undefined || named === own ? own : NOBODY };
}

export const isValidTaskId = (x: unknown) => v.is(TaskIdSchema, x);
