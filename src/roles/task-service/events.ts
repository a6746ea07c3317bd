import type { TaskEvent } from "../../domain/tasks/model.ts";

export interface TaskSubscription {
  userId?: number;
  taskIds?: ReadonlySet<number>;
}

type Listener = (e: TaskEvent) => void;

/**
 * Fans task events out to live subscribers. Storage feeds it (in-process writes,
 * or PostgreSQL LISTEN/NOTIFY from other replicas); streams unsubscribe on close.
 */
export class TaskEventBus {
  private readonly listeners = new Set<{ filter: TaskSubscription; fn: Listener }>();

  subscribe(filter: TaskSubscription, fn: Listener): () => void {
    const entry = { filter, fn };
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  publish(e: TaskEvent): void {
    for (const { filter, fn } of this.listeners) {
      if (filter.userId !== undefined && filter.userId !== e.task.user_id) continue;
      if (filter.taskIds && filter.taskIds.size > 0 && !filter.taskIds.has(e.task.id)) continue;
      fn(e);
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}
