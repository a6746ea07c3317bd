import type { TasksPort } from "./clients.ts";
import type { Deliver } from "./outbox.ts";
import type { ProcessStore } from "./store.ts";

/** Each attempt gets this long, retries inside the resilient client included. */
const ATTEMPT_BUDGET_MS = 10_000;

/**
 * What each effect means for task-service: a create makes the step's task (its key makes a
 * redelivery return the first task); complete and cancel set the status of the task the create
 * made, found by the task key remembered at delivery.
 */
export function taskDelivery(tasks: TasksPort, store: ProcessStore): Deliver {
  return async (record) => {
    const effect = record.effect;
    const deadline = Date.now() + ATTEMPT_BUDGET_MS;
    if (effect.kind === "createTask") {
      const taskId = await tasks.create(effect, { deadline });
      return { taskRef: { taskKey: effect.taskKey, taskId } };
    }
    const taskId = await store.taskIdFor(effect.taskKey);
    if (taskId === undefined) {
      // the create was refused for good, so there is no task to close
      if ((await store.outboxState(effect.taskKey)) === "dead") return {};
      throw new Error(`task ${effect.taskKey} is not known yet`);
    }
    await tasks.setStatus(taskId, effect.kind === "completeTask" ? "done" : "cancelled", { deadline });
    return {};
  };
}
