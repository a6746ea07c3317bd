import * as v from "valibot";
import type { FormField } from "./definition-schema.ts";
import { isIsoDate } from "./iso-date.ts";
import type { JsonValue } from "./json.ts";

/** Longest text any field takes when its definition sets no max_length. */
export const MAX_TEXT_LENGTH = 10_000;
const EMAIL_MAX_LENGTH = 254;

export type FieldErrorCode =
  | "required" | "type" | "min" | "max" | "min_length" | "max_length" | "pattern" | "enum" | "date" | "email" | "unknown_field";

type ValueSchema = v.GenericSchema<unknown, JsonValue>;
type Action = v.PipeItem<any, any, v.BaseIssue<unknown>>;

function lengthActions(field: FormField, hardMax: number): Action[] {
  const actions: Action[] = [];
  if (field.min_length !== undefined) actions.push(v.minLength(field.min_length, `must be at least ${field.min_length} characters`));
  const max = Math.min(field.max_length ?? hardMax, hardMax);
  actions.push(v.maxLength(max, `must be at most ${max} characters`));
  return actions;
}

function rangeActions(field: FormField): Action[] {
  const actions: Action[] = [];
  if (field.min !== undefined) actions.push(v.minValue(field.min, `must be at least ${field.min}`));
  if (field.max !== undefined) actions.push(v.maxValue(field.max, `must be at most ${field.max}`));
  return actions;
}

const pipeOf = (schema: ValueSchema, actions: Action[]): ValueSchema =>
  actions.length === 0 ? schema : (v.pipe(schema, ...(actions as [])) as unknown as ValueSchema);

/** The schema a present (non-empty) value of this field must satisfy. */
export function fieldValueSchema(field: FormField): ValueSchema {
  switch (field.type) {
    case "string": {
      const actions = lengthActions(field, MAX_TEXT_LENGTH);
      if (field.pattern !== undefined) actions.push(v.regex(new RegExp(field.pattern), `must match the pattern ${field.pattern}`));
      return pipeOf(v.string("must be text"), actions);
    }
    case "email":
      return pipeOf(v.string("must be text"), [...lengthActions(field, EMAIL_MAX_LENGTH), v.email("must be a valid email address")]);
    case "number":
      return pipeOf(v.number("must be a number"), [v.finite("must be a finite number"), ...rangeActions(field)]);
    case "integer":
      return pipeOf(v.number("must be a number"), [v.safeInteger("must be a whole number"), ...rangeActions(field)]);
    case "boolean":
      return v.boolean("must be true or false");
    case "date":
      return pipeOf(v.string("must be a date"), [
        v.check(isIsoDate, "must be a date (YYYY-MM-DD) or an ISO 8601 timestamp with offset"),
      ]);
    case "enum": {
      const options = field.options ?? [];
      return v.picklist(options, `must be one of: ${options.join(", ")}`) as unknown as ValueSchema;
    }
  }
}

/** Which rule a valibot issue broke, in the words of FieldError.code. */
export function codeForIssue(field: FormField, issue: v.BaseIssue<unknown>): FieldErrorCode {
  switch (issue.type) {
    case "min_value": return "min";
    case "max_value": return "max";
    case "min_length": return "min_length";
    case "max_length": return "max_length";
    case "regex": return "pattern";
    case "email": return field.type === "email" ? "email" : "type";
    case "picklist": return "enum";
    case "check": return field.type === "date" ? "date" : "type";
    default: return "type";
  }
}
