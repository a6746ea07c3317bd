import * as v from "valibot";
import { ConflictError, ForbiddenError, ValidationError } from "../../core/errors.ts";
import { JsonObjectSchema, type JsonObject } from "../forms/json.ts";
import { asUserId, resolveAssignee } from "./assignee.ts";
import type { Step, StoredProcessDefinition } from "./definition.ts";
import { taskKey, type CancelTask, type CompleteTask, type CreateTask, type Effect } from "./effects.ts";
import { compileCondition } from "./expression/index.ts";
import { END } from "./graph.ts";
import type { HistoryEntry, ProcessInstance } from "./instance.ts";

/** The instance after a change, and what task-service must be told. The input instance is never mutated. */
export interface Transition {
  instance: ProcessInstance;
  effects: Effect[];
}

const MAX_REASON_LENGTH = 1_000;
const iso = (ms: number) => new Date(ms).toISOString();

export function findStep(def: StoredProcessDefinition, stepId: string): Step | undefined {
  return def.steps.find((s) => s.id === stepId);
}

/** How many times the instance has entered `stepId` (its current visit, when it is the current step). */
export function visitOf(instance: Pick<ProcessInstance, "history">, stepId: string): number {
  return instance.history.reduce((n, h) => (h.action === "assigned" && h.step_id === stepId ? n + 1 : n), 0);
}

/** The idempotency key of the open task, or undefined when the instance is not running. */
export function openTaskKey(instance: ProcessInstance): string | undefined {
  if (instance.status !== "running" || instance.current_step === null) return undefined;
  return taskKey(instance.id, instance.current_step, visitOf(instance, instance.current_step));
}

function userIdOf(name: string, value: unknown): number {
  const id = asUserId(value);
  if (id === undefined || typeof value !== "number") throw new ValidationError(`${name} must be a user id`, [{ path: name, message: "must be a user id" }]);
  return id;
}

function jsonObjectOf(name: string, value: unknown): JsonObject {
  if (value === undefined) return {};
  if (!v.is(JsonObjectSchema, value)) throw new ValidationError(`${name} must be a JSON object`, [{ path: name, message: "must be a JSON object" }]);
  return value;
}

function checkDefinition(def: StoredProcessDefinition, instance: ProcessInstance): void {
  if (def.key !== instance.definition_key || def.version !== instance.definition_version) {
    throw new Error(`instance ${instance.id} runs ${instance.definition_key} v${instance.definition_version}, not ${def.key} v${def.version}`);
  }
}

function requireRunning(instance: ProcessInstance): void {
  if (instance.status !== "running") throw new ConflictError(`instance ${instance.id} is ${instance.status}, not running`, "INSTANCE_NOT_RUNNING");
}

/** Enters `step`: resolves its assignee from the variables and asks for its task. */
function enter(def: StoredProcessDefinition, instance: ProcessInstance, step: Step, at: string): { instance: ProcessInstance; effect: CreateTask } {
  const assignee = resolveAssignee(step.id, step.assignee, instance.variables);
  const assigned: HistoryEntry = { step_id: step.id, action: "assigned", user_id: assignee, at };
  const next = { ...instance, current_step: step.id, current_assignee: assignee, history: [...instance.history, assigned] };
  const visit = visitOf(next, step.id);
  const key = taskKey(instance.id, step.id, visit);
  return {
    instance: next,
    effect: {
      kind: "createTask",
      instanceId: instance.id,
      stepId: step.id,
      visit,
      taskKey: key,
      idempotencyKey: key,
      assigneeUserId: assignee,
      title: `${def.name}: ${step.name}`,
      description: `Step "${step.id}" of process ${def.key} v${def.version} (instance ${instance.id}); complete it by submitting form ${step.form_key}.`,
      priority: step.priority,
    },
  };
}

/** Closes the open task's bookkeeping: the effect that tells task-service, keyed by this visit. */
function openTaskEffect<K extends "completeTask" | "cancelTask">(instance: ProcessInstance, kind: K) {
  const stepId = instance.current_step!;
  const visit = visitOf(instance, stepId);
  const key = taskKey(instance.id, stepId, visit);
  return { kind, instanceId: instance.id, stepId, visit, taskKey: key, idempotencyKey: `${key}:${kind === "completeTask" ? "done" : "cancelled"}` };
}

/**
 * A new instance at the definition's first step, with the task for it. Throws ValidationError (400)
 * when the first step's assignee variable is missing or not a user id.
 */
export function startInstance(
  def: StoredProcessDefinition,
  opts: { id: string; variables?: JsonObject; startedBy: number; now: number },
): Transition {
  const startedBy = userIdOf("started_by", opts.startedBy);
  const variables = jsonObjectOf("variables", opts.variables);
  const at = iso(opts.now);
  const first = def.steps[0]!;
  const fresh: ProcessInstance = {
    id: opts.id,
    definition_key: def.key,
    definition_version: def.version,
    status: "running",
    current_step: null,
    current_assignee: null,
    end_state: null,
    variables,
    history: [{ step_id: "", action: "started", user_id: startedBy, at }],
    started_by: startedBy,
    created_at: at,
    updated_at: at,
    revision: 1,
  };
  const entered = enter(def, fresh, first, at);
  return { instance: entered.instance, effects: [entered.effect] };
}

/** The first rule whose condition holds, else the default, else the built-in end. */
export function nextTarget(step: Step, variables: JsonObject): string {
  for (const rule of step.transitions) if (compileCondition(rule.condition).test(variables)) return rule.target;
  return step.default_next ?? END;
}

/**
 * `userId` completes the current step with its (already validated) form data: data is merged into the
 * variables (top-level keys overwrite), the next step is chosen by the rules and entered, or the
 * instance ends. 409 when the instance is not running or `stepId` is not current; 403 for anyone
 * but the assignee; 400 when the next step's assignee variable is unusable — and then nothing changes.
 */
export function completeStep(
  def: StoredProcessDefinition,
  instance: ProcessInstance,
  opts: { stepId: string; userId: number; data: JsonObject; now: number; submissionId?: string },
): Transition {
  checkDefinition(def, instance);
  requireRunning(instance);
  if (opts.stepId !== instance.current_step) {
    throw new ConflictError(`step "${opts.stepId}" is not the current step of instance ${instance.id} (current: "${instance.current_step}")`, "STEP_NOT_CURRENT");
  }
  if (opts.userId !== instance.current_assignee) {
    throw new ForbiddenError(`only the assignee of step "${opts.stepId}" may complete it`);
  }
  const data = jsonObjectOf("data", opts.data);
  const step = findStep(def, opts.stepId)!;
  const at = iso(opts.now);
  const done: CompleteTask = { ...openTaskEffect(instance, "completeTask"), userId: opts.userId };
  const completed: HistoryEntry = { step_id: step.id, action: "completed", user_id: opts.userId, at, data };
  if (opts.submissionId !== undefined) completed.submission_id = opts.submissionId;
  const merged: ProcessInstance = {
    ...instance,
    variables: { ...instance.variables, ...data },
    history: [...instance.history, completed],
    updated_at: at,
    revision: instance.revision + 1,
  };
  const target = nextTarget(step, merged.variables);
  const nextStep = findStep(def, target);
  if (nextStep === undefined) {
    const ended: HistoryEntry = { step_id: target, action: "ended", user_id: 0, at };
    return {
      instance: { ...merged, status: "completed", current_step: null, current_assignee: null, end_state: target, history: [...merged.history, ended] },
      effects: [done],
    };
  }
  const entered = enter(def, merged, nextStep, at);
  return { instance: entered.instance, effects: [done, entered.effect] };
}

function stop(
  def: StoredProcessDefinition,
  instance: ProcessInstance,
  status: "cancelled" | "failed",
  userId: number,
  reason: string,
  now: number,
): Transition {
  checkDefinition(def, instance);
  requireRunning(instance);
  if (reason.length > MAX_REASON_LENGTH) throw new ValidationError(`reason must be at most ${MAX_REASON_LENGTH} characters`, [{ path: "reason", message: "too long" }]);
  const at = iso(now);
  const cancel: CancelTask = { ...openTaskEffect(instance, "cancelTask"), reason };
  const entry: HistoryEntry = { step_id: instance.current_step ?? "", action: status, user_id: userId, at };
  if (reason !== "") entry.note = reason;
  return {
    instance: { ...instance, status, current_step: null, current_assignee: null, history: [...instance.history, entry], updated_at: at, revision: instance.revision + 1 },
    effects: [cancel],
  };
}

/** Stops a running instance on `userId`'s request and cancels its open task; 409 unless running. */
export function cancelInstance(
  def: StoredProcessDefinition,
  instance: ProcessInstance,
  opts: { userId: number; reason?: string; now: number },
): Transition {
  return stop(def, instance, "cancelled", userIdOf("user_id", opts.userId), opts.reason ?? "", opts.now);
}

/** Marks a running instance failed (e.g. task-service refused its task for good) and cancels its open task. */
export function failInstance(def: StoredProcessDefinition, instance: ProcessInstance, opts: { reason: string; now: number }): Transition {
  return stop(def, instance, "failed", 0, opts.reason, opts.now);
}
