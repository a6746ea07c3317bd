import * as v from "valibot";
import {
  formValidationError,
  KeySchema,
  parseFormDefinition,
  validateSubmission,
  type FieldError,
  type JsonObject,
  type StoredFormDefinition,
} from "../../domain/forms/index.ts";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../../platform/errors.ts";
import { actsForAnyone, isDesigner, mayRead, type Principal } from "../../platform/principal.ts";
import { parseInput } from "../../platform/http.ts";
import { RESERVED_FORM_KEYS, SubmitBodySchema, type FormFilter, type Submission } from "./model.ts";
import type { FormStore } from "./store.ts";

export interface ValidationOutcome {
  valid: boolean;
  errors: FieldError[];
  /** The data as it would be stored (defaults applied), when valid. */
  data: JsonObject | undefined;
  /** The version checked against (0 resolved to the latest). */
  form_version: number;
}

const MAX_CACHED_FORMS = 1_000;

/** Who may read a process instance's submissions besides their submitter: its participants, as process-service decides. */
export interface ParticipantsPort {
  /** Whether process-service lets `caller` read instance `instanceId` (false when it answers 404). */
  mayReadInstance(caller: Principal, instanceId: string): Promise<boolean>;
}

/**
 * Form use cases shared by the REST and gRPC edges. Any caller reads definitions and submits;
 * publishing needs the designer role (or admin); a submission is read by its submitter, the
 * participants of its process instance and those who see all (docs/security.md).
 */
export class FormService {
  /** Versions never change once stored, so key@version is cached for validation's hot path. */
  private readonly cache = new Map<string, StoredFormDefinition>();

  constructor(private readonly store: FormStore, private readonly participants?: ParticipantsPort) {}

  async publish(caller: Principal, input: unknown): Promise<{ form: StoredFormDefinition; created: boolean }> {
    if (!isDesigner(caller)) throw new ForbiddenError("publishing a form needs the designer role");
    const def = parseFormDefinition(input);
    if (RESERVED_FORM_KEYS.has(def.key)) {
      throw new ValidationError(`invalid form definition: key: "${def.key}" is reserved`, [{ path: "key", message: `"${def.key}" is reserved` }]);
    }
    const result = await this.store.publish(def, new Date().toISOString());
    this.remember(result.form);
    return result;
  }

  /** version 0 = the latest; 404 when the form (or that version) does not exist. */
  async get(key: string, version = 0): Promise<StoredFormDefinition> {
    const cached = version > 0 ? this.cache.get(`${key}@${version}`) : undefined;
    if (cached) return cached;
    const form = await this.store.get(parseInput(KeySchema, key, "form key"), version);
    if (!form) throw new NotFoundError(version > 0 ? `form ${key} has no version ${version}` : `form ${key} not found`);
    this.remember(form);
    return form;
  }

  list(filter: FormFilter): Promise<StoredFormDefinition[]> {
    return this.store.list(filter);
  }

  count(filter: Omit<FormFilter, "limit" | "offset">): Promise<number> {
    return this.store.count(filter);
  }

  /** Checks `data` against the form; stores nothing. */
  async validate(key: string, version: number, data: unknown): Promise<ValidationOutcome> {
    const form = await this.get(key, version);
    const result = validateSubmission(form, data);
    return result.ok
      ? { valid: true, errors: [], data: result.value, form_version: form.version }
      : { valid: false, errors: result.details, data: undefined, form_version: form.version };
  }

  /** Validates and stores; 422 with one detail per failing field, and nothing stored, when invalid. */
  async submit(caller: Principal, key: string, body: unknown): Promise<{ submission: Submission; created: boolean }> {
    const input = parseInput(SubmitBodySchema, body ?? {}, "submission");
    // a user submits as themself (a submitted_by in the body is not theirs to choose); admins and
    // services (process-service, for the step's assignee) name the submitter
    if (!actsForAnyone(caller)) {
      if (caller.userId === undefined) throw new ForbiddenError("submitting needs a user's token (sub must be a numeric user id)");
      input.submitted_by = caller.userId;
    }
    const form = await this.get(key, input.form_version);
    const result = validateSubmission(form, input.data ?? {});
    if (!result.ok) throw formValidationError(form, result.details);
    const stored = await this.store.submit(
      {
        form_key: form.key,
        form_version: form.version,
        data: result.value,
        submitted_by: input.submitted_by,
        process_instance_id: input.process_instance_id,
        step_id: input.step_id,
        idempotency_key: input.idempotency_key || undefined,
      },
      Bun.randomUUIDv7(),
      new Date().toISOString(),
    );
    // an idempotency key is not a way to read someone else's submission
    if (!stored.created && stored.submission.submitted_by !== input.submitted_by) throw new ConflictError("this idempotency key was used for another submission", "IDEMPOTENCY_KEY_IN_USE");
    return stored;
  }

  async getSubmission(caller: Principal, id: string): Promise<Submission> {
    const sub = v.is(IdSchema, id) ? await this.store.getSubmission(id) : undefined;
    if (!sub || !(await this.mayReadSubmission(caller, sub))) throw new NotFoundError(`submission ${id} not found`);
    return sub;
  }

  private async mayReadSubmission(caller: Principal, sub: Submission): Promise<boolean> {
    if (mayRead(caller, sub.submitted_by || undefined)) return true;
    if (!sub.process_instance_id || this.participants === undefined || caller.userId === undefined) return false;
    return this.participants.mayReadInstance(caller, sub.process_instance_id);
  }

  private remember(form: StoredFormDefinition): void {
    const k = `${form.key}@${form.version}`;
    if (this.cache.has(k)) return;
    this.cache.set(k, form);
    if (this.cache.size > MAX_CACHED_FORMS) this.cache.delete(this.cache.keys().next().value!);
  }
}

const IdSchema = v.pipe(v.string(), v.maxLength(100));
