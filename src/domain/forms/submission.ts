import * as v from "valibot";
import { FormValidationError } from "../../core/errors.ts";
import type { FormDefinition } from "./definition.ts";
import { codeForIssue, fieldValueSchema, type FieldErrorCode } from "./field-schema.ts";
import { canonicalJson, isPlainObject, type JsonObject, type JsonValue } from "./json.ts";

export interface FieldError {
  field: string;
  message: string;
  code: FieldErrorCode;
}

export type SubmissionResult = { ok: true; value: JsonObject } | { ok: false; details: FieldError[] };

type Definition = FormDefinition & { version?: number };
type SubmissionSchema = v.GenericSchema<unknown, JsonObject>;

/** Stands in for a missing key so the field's own pipe still runs (required check, default). */
const MISSING = Symbol("missing");
/** null and "" count as not filled in, like an empty HTML input. */
const isAbsent = (x: unknown) => x === MISSING || x === undefined || x === null || x === "";

function fieldEntry(field: FormDefinition["fields"][number]) {
  const value = fieldValueSchema(field);
  const fallback = field.default;
  const inner =
    fallback !== undefined
      ? v.pipe(v.unknown(), v.transform((x) => (isAbsent(x) ? fallback : x)), value)
      : field.required
        ? v.pipe(v.unknown(), v.transform((x): unknown => (isAbsent(x) ? undefined : x)), v.check((x: unknown) => x !== undefined, "is required"), value)
        : v.pipe(v.unknown(), v.transform((x) => (isAbsent(x) ? undefined : x)), v.optional(value));
  return v.optional(inner, MISSING);
}

function dropUnset(obj: Record<string, JsonValue | undefined>): JsonObject {
  const out: JsonObject = {};
  for (const [k, val] of Object.entries(obj)) if (val !== undefined) out[k] = val;
  return out;
}

interface Compiled {
  fingerprint: string;
  schema: SubmissionSchema;
}

const MAX_CACHED = 1_000;
// Stored definitions are immutable per key+version; the fingerprint guards against two different
// contents under one key+version (an unsaved draft, a test) ever sharing a schema.
const byKeyVersion = new Map<string, Compiled>();
const byObject = new WeakMap<object, Compiled>();

function compile(def: Definition): Compiled {
  const hit = byObject.get(def);
  if (hit) return hit;
  const fingerprint = canonicalJson(def.fields);
  const cacheKey = def.version !== undefined ? `${def.key}@${def.version}` : undefined;
  const cached = cacheKey !== undefined ? byKeyVersion.get(cacheKey) : undefined;
  if (cached && cached.fingerprint === fingerprint) {
    byObject.set(def, cached);
    return cached;
  }
  const entries = Object.fromEntries(def.fields.map((f) => [f.name, fieldEntry(f)]));
  const schema = v.pipe(v.strictObject(entries), v.transform(dropUnset)) as unknown as SubmissionSchema;
  const compiled = { fingerprint, schema };
  if (cacheKey !== undefined) {
    byKeyVersion.delete(cacheKey);
    byKeyVersion.set(cacheKey, compiled);
    if (byKeyVersion.size > MAX_CACHED) byKeyVersion.delete(byKeyVersion.keys().next().value!);
  }
  byObject.set(def, compiled);
  return compiled;
}

/**
 * The valibot schema for submissions to `def`: defaults applied, unknown keys refused, unset optional
 * fields left out of the output. Built once per key+version.
 */
export function buildSubmissionSchema(def: Definition): SubmissionSchema {
  return compile(def).schema;
}

/**
 * Checks every field (not just up to the first failure): one detail per failing field, in the
 * definition's order, then one per unknown field. Nothing is coerced: "3" is not a number.
 */
export function validateSubmission(def: Definition, data: unknown): SubmissionResult {
  if (!isPlainObject(data)) return { ok: false, details: [{ field: "", message: "must be a JSON object", code: "type" }] };
  const { schema } = compile(def);
  const names = new Set(def.fields.map((f) => f.name));
  const known: Record<string, unknown> = {};
  const unknown: FieldError[] = [];
  for (const [k, val] of Object.entries(data)) {
    if (names.has(k)) known[k] = val;
    else unknown.push({ field: k, message: `is not a field of form ${def.key}`, code: "unknown_field" });
  }
  const result = v.safeParse(schema, known, { abortPipeEarly: true });
  if (result.success && unknown.length === 0) return { ok: true, value: result.output };
  const details: FieldError[] = [];
  if (!result.success) {
    const firstByField = new Map<string, v.BaseIssue<unknown>>();
    for (const issue of result.issues) {
      const name = issue.path?.[0]?.key;
      if (typeof name === "string" && !firstByField.has(name)) firstByField.set(name, issue);
    }
    for (const field of def.fields) {
      const issue = firstByField.get(field.name);
      if (!issue) continue;
      const code = issue.type === "check" && issue.input === undefined ? "required" : codeForIssue(field, issue);
      details.push({ field: field.name, message: issue.message, code });
    }
  }
  return { ok: false, details: [...details, ...unknown] };
}

/** The 422 for a failed submission: `form leave-request v1: 2 fields are invalid`, details as given. */
export function formValidationError(def: Definition, details: FieldError[]): FormValidationError {
  const which = def.version !== undefined ? `${def.key} v${def.version}` : def.key;
  const count = details.length === 1 ? "1 field is invalid" : `${details.length} fields are invalid`;
  return new FormValidationError(`form ${which}: ${count}`, details);
}
