import * as v from "valibot";
import { INT32_MAX, intField, intParam } from "../../domain/params.ts";
import { JsonObjectSchema } from "../../domain/forms/index.ts";
import { CountModeSchema } from "../../domain/paging/count.ts";
import { cursorParam, INSTANCE_CURSOR } from "../../domain/paging/cursor.ts";
import { INSTANCE_STATUSES, type Effect, type InstanceStatus } from "../../domain/process/index.ts";

export const MAX_PAGE = 1000;


export const VersionSchema = intParam("a version number (0 = latest)", 0, INT32_MAX);
export const UserIdSchema = intParam("a positive integer user id", 1, INT32_MAX);
const limit = v.optional(intParam(`an integer in 1..${MAX_PAGE}`, 1, MAX_PAGE), 50);
const offset = v.optional(intParam("a non-negative integer", 0, INT32_MAX), 0);
const shortText = (max: number) => v.pipe(v.string("must be a string"), v.maxLength(max, `must be at most ${max} characters`));

export interface DefinitionFilter {
  /** Set: every version of this definition, newest first. Unset: the latest version of each, by key. */
  key?: string;
  limit: number;
  offset: number;
}

export const ListDefinitionsQuerySchema = v.object({ key: v.optional(shortText(100)), limit, offset });
export const GetDefinitionQuerySchema = v.object({ version: v.optional(VersionSchema, 0) });

/**
 * `GET /api/processes/instances` (and ListInstances): newest first. Pages follow `cursor` (the previous
 * page's `next_cursor`), each costing the same however deep; `offset` is the slow path, O(offset).
 */
export const ListInstancesQuerySchema = v.object({
  definition_key: v.optional(shortText(100)),
  status: v.optional(v.picklist(INSTANCE_STATUSES, `must be one of ${INSTANCE_STATUSES.join(", ")}`)),
  started_by: v.optional(UserIdSchema),
  /** Instances whose current step is assigned to this user. */
  assignee: v.optional(UserIdSchema),
  limit,
  /** Rows to skip first: O(offset); prefer `cursor`. */
  offset: v.optional(intParam("a non-negative integer", 0, INT32_MAX)),
  /** Opaque: the `next_cursor` of the previous page, with the same filters. */
  cursor: v.optional(cursorParam(INSTANCE_CURSOR)),
  count: CountModeSchema,
});
export type ListInstancesQuery = v.InferOutput<typeof ListInstancesQuerySchema>;

/** What the stores filter instances on; every field is a plain filter. */
export interface InstanceMatch {
  definition_key?: string;
  status?: InstanceStatus;
  started_by?: number;
  assignee?: number;
}

export interface InstanceFilter extends InstanceMatch {
  /** Keyset position: only instances with a smaller id (ids are UUIDv7, compared bytewise). */
  before_id?: string;
  limit: number;
  offset: number;
}

const versionField = intField("a version number (0 = latest)", 0, INT32_MAX);
const userField = intField("a positive integer user id", 1, INT32_MAX);

export const StartBodySchema = v.object({
  definition_version: v.optional(versionField, 0),
  variables: v.optional(JsonObjectSchema),
  started_by: v.optional(userField),
  idempotency_key: v.optional(shortText(200)),
});

/** An instance's id, as the store makes them. */
export const InstanceIdSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(100));

export const CompleteBodySchema = v.object({
  step_id: v.pipe(v.string("must be a string"), v.nonEmpty("is required"), v.maxLength(64, "must be at most 64 characters")),
  data: v.optional(JsonObjectSchema),
  user_id: v.optional(userField),
});

export const CancelBodySchema = v.object({
  reason: v.optional(shortText(1_000), ""),
  user_id: v.optional(userField),
});

/** Process keys that name a REST sub-resource (/api/processes/instances) and so cannot be definition keys. */
export const RESERVED_PROCESS_KEYS: ReadonlySet<string> = new Set(["instances"]);

export type OutboxState = "pending" | "delivered" | "dead";

/** One effect waiting for (or past) delivery to task-service. */
export interface OutboxRecord {
  /** Order of writing; delivery follows it per instance. */
  seq: number;
  instanceId: string;
  effect: Effect;
  attempts: number;
  /** Epoch ms before which the record is not tried again. */
  nextAttemptAt: number;
  lastError: string | null;
  /** W3C traceparent of the request that wrote the record, when tracing was on. */
  traceparent: string | null;
  /** Epoch ms. */
  createdAt: number;
}

/** The outbox's backlog at a glance (the shape src/telemetry reads, plus the age). */
export interface OutboxStats {
  /** Records written but not yet delivered (nor given up on). */
  pending: number;
  /** created_at (epoch ms) of the oldest pending record; undefined when none is pending. */
  oldestCreatedAtMs?: number;
  /** How long the oldest pending record has waited, ms (0 when none). */
  oldestAgeMs: number;
  /** Records given up on for good (task-service refused them). */
  dead: number;
}

export type { InstanceStatus };

