import * as v from "valibot";
import { INT32_MAX, intField, intParam } from "../../domain/params.ts";
import { JsonObjectSchema, type JsonObject } from "../../domain/forms/index.ts";

export const MAX_PAGE = 1000;

/** A stored submission, as it goes on the wire (formservice.Submission field names). */
export interface Submission {
  id: string;
  form_key: string;
  form_version: number;
  data: JsonObject;
  submitted_by: number;
  process_instance_id: string;
  step_id: string;
  created_at: string;
}

export type NewSubmission = Omit<Submission, "id" | "created_at"> & { idempotency_key?: string };

export interface FormFilter {
  /** Set: every version of this form, newest first. Unset: the latest version of every form, by key. */
  key?: string;
  limit: number;
  offset: number;
}


export const VersionSchema = intParam("a version number (0 = latest)", 0, INT32_MAX);
export const UserIdSchema = intParam("a user id", 0, INT32_MAX);

export const ListFormsQuerySchema = v.object({
  key: v.optional(v.pipe(v.string(), v.maxLength(100, "must be at most 100 characters"))),
  limit: v.optional(intParam(`an integer in 1..${MAX_PAGE}`, 1, MAX_PAGE), 50),
  offset: v.optional(intParam("a non-negative integer", 0, INT32_MAX), 0),
});

export const GetFormQuerySchema = v.object({ version: v.optional(VersionSchema, 0) });

const shortText = (max: number) => v.pipe(v.string("must be a string"), v.maxLength(max, `must be at most ${max} characters`));

/** What a submit or validate request carries besides the form key (REST body, gRPC request alike). */
export const SubmitBodySchema = v.object({
  data: v.optional(JsonObjectSchema),
  form_version: v.optional(intField("a version number (0 = latest)", 0, INT32_MAX), 0),
  submitted_by: v.optional(intField("a user id", 0, INT32_MAX), 0),
  process_instance_id: v.optional(shortText(200), ""),
  step_id: v.optional(shortText(200), ""),
  idempotency_key: v.optional(shortText(200), ""),
});
/** POST /api/forms/{key}/validate: the data to check, against a version (0 = latest). */
export const ValidateBodySchema = v.object({ data: v.optional(JsonObjectSchema), form_version: v.optional(intField("a version number (0 = latest)", 0, INT32_MAX), 0) });

/** A submission's id, as the store makes them. */
export const SubmissionIdSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(100));

export type SubmitBody = v.InferOutput<typeof SubmitBodySchema>;

/** Form keys that name a REST sub-resource (/api/forms/submissions/:id) and so cannot be form keys. */
export const RESERVED_FORM_KEYS: ReadonlySet<string> = new Set(["submissions"]);

