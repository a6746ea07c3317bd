import type { Priority } from "./definition.ts";

/**
 * What the service must make happen in task-service after an engine step. They are data, written
 * with the instance in one transaction as outbox records and delivered in order per instance.
 */
export type Effect = CreateTask | CompleteTask | CancelTask;

interface TaskEffect {
  instanceId: string;
  stepId: string;
  /** 1 for a step's first visit, 2 when a loop comes back to it, … */
  visit: number;
  /** The task this is about: `instance:step:visit`; CreateTask sends it as the task's idempotency key. */
  taskKey: string;
  /** Unique per effect, for the outbox: delivering it twice must not do it twice. */
  idempotencyKey: string;
}

export interface CreateTask extends TaskEffect {
  kind: "createTask";
  assigneeUserId: number;
  title: string;
  description: string;
  priority: Priority;
}

/** The task's step was completed by `userId`: set the task done. */
export interface CompleteTask extends TaskEffect {
  kind: "completeTask";
  userId: number;
}

/** The instance was cancelled or failed while this task was open. */
export interface CancelTask extends TaskEffect {
  kind: "cancelTask";
  reason: string;
}

/** Deterministic, so a redelivered create finds the first task, while a loop's new visit gets a new one. */
export function taskKey(instanceId: string, stepId: string, visit: number): string {
  return `${instanceId}:${stepId}:${visit}`;
}
