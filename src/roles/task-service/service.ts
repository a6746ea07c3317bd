import * as v from "valibot";
import { NotFoundError } from "../../platform/errors.ts";
import { parseInput } from "../../platform/http.ts";
import { TaskEventBus, type TaskSubscription } from "./events.ts";
import { CreateTaskSchema, UpdateTaskSchema, TaskIdSchema, type Task, type TaskEvent, type TaskEventType, type TaskFilter } from "../../domain/tasks/model.ts";
import type { TaskStore } from "./store.ts";

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

  count(filter: Omit<TaskFilter, "limit" | "offset">): Promise<number> {
    return this.store.count(filter);
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
