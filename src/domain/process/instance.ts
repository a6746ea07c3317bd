import * as v from "valibot";
import { JsonObjectSchema } from "../forms/json.ts";

export const INSTANCE_STATUSES = ["running", "completed", "cancelled", "failed"] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];
export const HISTORY_ACTIONS = ["started", "assigned", "completed", "cancelled", "ended", "failed"] as const;
export type HistoryAction = (typeof HISTORY_ACTIONS)[number];

export const HistoryEntrySchema = v.object({
  /** A step id; the end state id for `ended`; "" for `started`. */
  step_id: v.string(),
  action: v.picklist(HISTORY_ACTIONS),
  /** Who acted: the starter, the assignee (for `assigned`), the completer, the canceller; 0 for the engine. */
  user_id: v.number(),
  at: v.string(),
  data: v.optional(JsonObjectSchema),
  submission_id: v.optional(v.string()),
  note: v.optional(v.string()),
});

/** An instance as stored (a JSON column parses back through this schema) and as the engine passes it around. */
export const ProcessInstanceSchema = v.object({
  id: v.string(),
  definition_key: v.string(),
  definition_version: v.number(),
  status: v.picklist(INSTANCE_STATUSES),
  /** The step waiting for its assignee; null unless running. */
  current_step: v.nullable(v.string()),
  current_assignee: v.nullable(v.number()),
  /** The end state reached, once completed. */
  end_state: v.nullable(v.string()),
  variables: JsonObjectSchema,
  history: v.array(HistoryEntrySchema),
  started_by: v.number(),
  created_at: v.string(),
  updated_at: v.string(),
  /** +1 on every change: the store writes with compare-and-set on it, so two concurrent completions cannot both win. */
  revision: v.number(),
});

export type HistoryEntry = v.InferOutput<typeof HistoryEntrySchema>;
export type ProcessInstance = v.InferOutput<typeof ProcessInstanceSchema>;

/** Reads an instance back from storage; throws if the stored shape is not one. */
export function parseInstance(input: unknown): ProcessInstance {
  return v.parse(ProcessInstanceSchema, input);
}
