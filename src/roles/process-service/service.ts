import { canonicalJson, formValidationError, isPlainObject, KeySchema, type JsonObject } from "../../domain/forms/index.ts";
import {
  cancelInstance,
  completeStep,
  failInstance,
  findStep,
  openTaskKey,
  parseProcessDefinition,
  startInstance,
  taskKey,
  visitOf,
  type ProcessInstance,
  type StoredProcessDefinition,
  type Transition,
} from "../../domain/process/index.ts";
import { type Clock, systemClock } from "../../platform/clock.ts";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../../platform/errors.ts";
import { parseInput } from "../../platform/http.ts";
import { actingUser, isDesigner, mayRead, seesAll, type Principal } from "../../platform/principal.ts";
import type { Logger } from "../../platform/logger.ts";
import type { GrpcCallOptions } from "../../transport/grpc-client.ts";
import type { FormsPort } from "./clients.ts";
import { RESERVED_PROCESS_KEYS, type DefinitionFilter, type InstanceFilter, type InstanceMatch, type ListInstancesQuery, type OutboxRecord } from "./model.ts";
import { countLimit, pageTotal, type PageTotal } from "../../domain/paging/count.ts";
import { INSTANCE_CURSOR } from "../../domain/paging/cursor.ts";
import { cutPage } from "../../domain/paging/page.ts";
import type { ProcessStore } from "./store.ts";

/** One page of the instance list, as `GET /api/processes/instances` answers it. */
export type InstancePage = { items: ProcessInstance[]; next_cursor: string | null } & PageTotal & { limit: number; offset: number };

/** No user has this id: a filter that matches nothing. */
const NOBODY = -1;

/** Everyone who took part in an instance: its starter, its current assignee and every user in its history. */
export function participantsOf(instance: ProcessInstance): number[] {
  const ids = [instance.started_by, ...instance.history.map((h) => h.user_id)];
  if (instance.current_assignee !== null) ids.push(instance.current_assignee);
  return ids.filter((id) => id > 0);
}

export interface ProcessServiceOptions {
  log: Logger;
  clock?: Clock;
  /** Told after every write that queued effects, so the dispatcher delivers them at once. */
  onEffects?: () => void;
  /** The traceparent to store beside outbox records (tracing hooks it in; undefined otherwise). */
  traceparent?: () => string | undefined;
}

const MAX_CACHED_DEFINITIONS = 1_000;
/** Compare-and-set retries before giving up; a lost race normally ends in the engine's own 409 at once. */
const MAX_CAS_ATTEMPTS = 3;

/**
 * Process use cases shared by the REST and gRPC edges. Calls to form-service happen before any write.
 * Every use case takes the caller: deploying needs the designer role, any user starts an instance, an
 * instance is seen only by its participants (404 for anyone else) and those who see all (docs/security.md).
 */
export class ProcessService {
  /** Definition versions never change once stored. */
  private readonly definitions = new Map<string, StoredProcessDefinition>();
  private readonly clock: Clock;

  constructor(
    private readonly store: ProcessStore,
    private readonly forms: FormsPort,
    private readonly opts: ProcessServiceOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
  }

  /** Validates (forms must exist in form-service) and stores the next version, or returns the same one. */
  async deploy(caller: Principal, input: unknown, o: GrpcCallOptions = {}): Promise<{ definition: StoredProcessDefinition; created: boolean }> {
    if (!isDesigner(caller)) throw new ForbiddenError("deploying a process needs the designer role");
    const key = isPlainObject(input) ? input.key : undefined;
    if (typeof key === "string" && RESERVED_PROCESS_KEYS.has(key)) {
      throw new ValidationError(`invalid process definition: key: "${key}" is reserved`, [{ path: "key", message: `"${key}" is reserved` }]);
    }
    const def = await parseProcessDefinition(input, (formKey, version) => this.forms.exists(formKey, version, o));
    const result = await this.store.deploy(def, this.isoNow());
    this.remember(result.definition);
    return result;
  }

  /** version 0 = the latest. */
  async getDefinition(key: string, version = 0): Promise<StoredProcessDefinition> {
    const cached = version > 0 ? this.definitions.get(`${key}@${version}`) : undefined;
    if (cached) return cached;
    const def = await this.store.getDefinition(parseInput(KeySchema, key, "process key"), version);
    if (!def) throw new NotFoundError(version > 0 ? `process ${key} has no version ${version}` : `process ${key} not found`);
    this.remember(def);
    return def;
  }

  listDefinitions(filter: DefinitionFilter): Promise<StoredProcessDefinition[]> {
    return this.store.listDefinitions(filter);
  }

  countDefinitions(filter: Omit<DefinitionFilter, "limit" | "offset">): Promise<number> {
    return this.store.countDefinitions(filter);
  }

  /** A new instance at the first step; its task is requested through the outbox. A used idempotency key returns its instance. */
  async start(caller: Principal, req: { key: string; version: number; variables: unknown; startedBy?: number; idempotencyKey?: string }): Promise<{ instance: ProcessInstance; created: boolean }> {
    const startedBy = actingUser(caller, req.startedBy, "start");
    const def = await this.getDefinition(req.key, req.version);
    if (req.variables !== undefined && !isPlainObject(req.variables)) throw new ValidationError("variables must be a JSON object", [{ path: "variables", message: "must be a JSON object" }]);
    const now = this.clock.now();
    const t = startInstance(def, { id: Bun.randomUUIDv7(), variables: req.variables as JsonObject | undefined, startedBy, now });
    const result = await this.store.createInstance(t.instance, t.effects, { idempotencyKey: req.idempotencyKey || undefined, traceparent: this.opts.traceparent?.(), now });
    // an idempotency key is not a way to read someone else's instance
    if (!result.created && result.instance.started_by !== startedBy) throw new ConflictError("this idempotency key was used for another instance", "IDEMPOTENCY_KEY_IN_USE");
    if (result.created) this.opts.onEffects?.();
    return result;
  }

  /** The instance, when the caller takes part in it (or sees all); 404 otherwise. */
  async getInstance(caller: Principal, id: string): Promise<ProcessInstance> {
    const instance = await this.loadInstance(id);
    if (!mayRead(caller, ...participantsOf(instance))) throw new NotFoundError(`instance ${id} not found`);
    return instance;
  }

  private async loadInstance(id: string): Promise<ProcessInstance> {
    const instance = id.length <= 100 ? await this.store.getInstance(id) : undefined;
    if (!instance) throw new NotFoundError(`instance ${id} not found`);
    return instance;
  }

  /** A user's list holds instances they started or (with `assignee` = their id) wait on them; admins and services see all. */
  listInstances(caller: Principal, filter: InstanceFilter): Promise<ProcessInstance[]> {
    return this.store.listInstances(ownInstances(caller, filter));
  }

  countInstances(caller: Principal, filter: InstanceMatch, upTo?: number): Promise<number> {
    return this.store.countInstances(ownInstances(caller, filter), upTo);
  }

  /** One page of the caller's instances, newest first: after `cursor`, less the first `offset` (the slow path), `next_cursor` while more follow, `total` as `count` asks. */
  async pageInstances(caller: Principal, q: ListInstancesQuery): Promise<InstancePage> {
    const offset = q.offset ?? 0;
    const match = ownInstances<InstanceMatch>(caller, { definition_key: q.definition_key, status: q.status, started_by: q.started_by, assignee: q.assignee });
    const before_id = q.cursor === undefined ? undefined : INSTANCE_CURSOR.decode(q.cursor);
    if (q.cursor !== undefined && before_id === undefined) throw new ValidationError("invalid cursor: must be the next_cursor of a previous page", [{ field: "cursor", message: "must be the next_cursor of a previous page" }]);
    const upTo = countLimit(q.count);
    const [rows, counted] = await Promise.all([this.store.listInstances({ ...match, before_id, limit: q.limit + 1, offset }), upTo === 0 ? undefined : this.store.countInstances(match, upTo)]);
    return { ...cutPage(rows, q.limit, (i) => INSTANCE_CURSOR.encode(i.id)), ...pageTotal(q.count, counted), limit: q.limit, offset };
  }

  /**
   * `actor` completes `stepId` with `data`: 409/403 are decided first; then form-service validates
   * (422 with per-field details) and stores the submission; then the instance change and its
   * effects are written in one transaction. Form-service down → 503 and nothing changed.
   */
  async complete(caller: Principal, req: { instanceId: string; stepId: string; userId?: number; data: unknown }, o: GrpcCallOptions = {}): Promise<ProcessInstance> {
    const instance = await this.getInstance(caller, req.instanceId);
    const userId = actingUser(caller, req.userId, "complete");
    const def = await this.definitionOf(instance);
    checkCompletable(instance, req.stepId, userId);
    if (req.data !== undefined && !isPlainObject(req.data)) throw new ValidationError("data must be a JSON object", [{ path: "data", message: "must be a JSON object" }]);
    const step = findStep(def, req.stepId)!;
    const checked = await this.forms.validate(step.form_key, step.form_version ?? 0, (req.data ?? {}) as JsonObject, o);
    if (!checked.valid) throw formValidationError({ key: step.form_key, title: step.form_key, fields: [], version: checked.formVersion }, checked.errors);
    const visitKey = taskKey(instance.id, step.id, visitOf(instance, step.id));
    const submission = await this.forms.submit(
      {
        formKey: step.form_key,
        formVersion: checked.formVersion,
        data: checked.data,
        submittedBy: userId,
        instanceId: instance.id,
        stepId: step.id,
        // the same data for the same visit is one submission, however often the completion is retried
        idempotencyKey: `${visitKey}:${digest(checked.data)}`,
      },
      o,
    );
    return this.apply(instance, (current) =>
      completeStep(def, current, { stepId: req.stepId, userId, data: checked.data, now: this.clock.now(), submissionId: submission.id }),
    );
  }

  /** Cancels a running instance and its open task. The starter, the current assignee or an admin may. */
  async cancel(caller: Principal, req: { instanceId: string; userId?: number; reason?: string }): Promise<ProcessInstance> {
    const instance = await this.getInstance(caller, req.instanceId);
    const userId = actingUser(caller, req.userId, "cancel");
    const def = await this.definitionOf(instance);
    if (!caller.admin && userId !== instance.started_by && userId !== instance.current_assignee) {
      throw new ForbiddenError("only the starter, the current assignee or an admin may cancel an instance");
    }
    return this.apply(instance, (current) => cancelInstance(def, current, { userId, reason: req.reason ?? "", now: this.clock.now() }));
  }

  /** task-service refused a step's task for good: the instance cannot go on, so it fails (if still at that step). */
  async failForRefusedTask(record: OutboxRecord, err: unknown): Promise<void> {
    if (record.effect.kind !== "createTask") return;
    const instance = await this.store.getInstance(record.instanceId);
    if (!instance || openTaskKey(instance) !== record.effect.taskKey) return;
    const def = await this.definitionOf(instance);
    const reason = `task-service refused the task for step "${record.effect.stepId}": ${(err as Error)?.message ?? String(err)}`.slice(0, 1_000);
    try {
      await this.apply(instance, (current) => failInstance(def, current, { reason, now: this.clock.now() }));
      this.opts.log.warn("instance failed: its task was refused", { instance_id: instance.id, step_id: record.effect.stepId });
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e; // it moved on meanwhile
    }
  }

  /** Runs the engine on the stored state and writes with compare-and-set; a lost race re-runs it on the new state. */
  private async apply(first: ProcessInstance, change: (current: ProcessInstance) => Transition): Promise<ProcessInstance> {
    let current = first;
    for (let attempt = 1; ; attempt++) {
      const t = change(current);
      if (await this.store.updateInstance(t.instance, current.revision, t.effects, { traceparent: this.opts.traceparent?.(), now: this.clock.now() })) {
        if (t.effects.length > 0) this.opts.onEffects?.();
        return t.instance;
      }
      if (attempt >= MAX_CAS_ATTEMPTS) throw new ConflictError(`instance ${first.id} is changing too often; try again`, "CONCURRENT_UPDATE");
      current = await this.loadInstance(first.id);
    }
  }

  private definitionOf(instance: ProcessInstance): Promise<StoredProcessDefinition> {
    return this.getDefinition(instance.definition_key, instance.definition_version);
  }

  private remember(def: StoredProcessDefinition): void {
    const k = `${def.key}@${def.version}`;
    if (this.definitions.has(k)) return;
    this.definitions.set(k, def);
    if (this.definitions.size > MAX_CACHED_DEFINITIONS) this.definitions.delete(this.definitions.keys().next().value!);
  }

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString();
  }
}

/** The filter narrowed to instances the caller started or is assigned, unless they see all. */
function ownInstances<F extends { started_by?: number; assignee?: number }>(caller: Principal, filter: F): F {
  if (seesAll(caller)) return filter;
  const own = caller.userId ?? NOBODY;
  const narrowed = (named: number | undefined) => (named === undefined || named === own ? named : NOBODY);
  const out = { ...filter, started_by: narrowed(filter.started_by), assignee: narrowed(filter.assignee) };
  if (out.started_by === undefined && out.assignee === undefined) out.started_by = own;
  return out;
}

/**
 * The engine's own 409/403 checks, made before form-service is asked anything, so a refused
 * completion costs no submission (the engine repeats them inside the write).
 */
function checkCompletable(instance: ProcessInstance, stepId: string, userId: number): void {
  if (instance.status !== "running") throw new ConflictError(`instance ${instance.id} is ${instance.status}, not running`, "INSTANCE_NOT_RUNNING");
  if (stepId !== instance.current_step) {
    throw new ConflictError(`step "${stepId}" is not the current step of instance ${instance.id} (current: "${instance.current_step}")`, "STEP_NOT_CURRENT");
  }
  if (userId !== instance.current_assignee) throw new ForbiddenError(`only the assignee of step "${stepId}" may complete it`);
}

function digest(data: JsonObject): string {
  return new Bun.CryptoHasher("sha256").update(canonicalJson(data)).digest("hex").slice(0, 16);
}
