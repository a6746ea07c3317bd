// The form definition schemas and the types inferred from them; parsing and checks live in definition.ts.
import * as v from "valibot";
import { JsonValueSchema, type JsonValue } from "./json.ts";

export const FIELD_TYPES = ["string", "number", "integer", "boolean", "date", "email", "enum"] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** Keys appear in URLs (/api/forms/{key}) and task titles. */
export const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** Identifier-like, so process conditions can name a field; `__` prefixes are refused to keep `__proto__` out. */
const FIELD_NAME_PATTERN = /^(?!__)[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_FIELDS = 200;
const MAX_OPTIONS = 500;

export const KeySchema = v.pipe(
  v.string("must be a string"),
  v.regex(KEY_PATTERN, "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"),
);

const finite = v.pipe(v.number("must be a number"), v.finite("must be a finite number"));
const count = v.pipe(v.number("must be a number"), v.integer("must be an integer"), v.minValue(0, "must not be negative"));

const FieldInputSchema = v.strictObject(
  {
    name: v.pipe(v.string("must be a string"), v.regex(FIELD_NAME_PATTERN, "must be an identifier: a letter or _ then letters, digits or _ (at most 64)")),
    label: v.nullish(v.pipe(v.string("must be a string"), v.maxLength(200, "must be at most 200 characters"))),
    type: v.picklist(FIELD_TYPES, (issue) => `unknown type ${JSON.stringify(issue.input)} (expected one of ${FIELD_TYPES.join(", ")})`),
    required: v.nullish(v.boolean("must be true or false")),
    min: v.nullish(finite),
    max: v.nullish(finite),
    min_length: v.nullish(count),
    max_length: v.nullish(count),
    pattern: v.nullish(v.pipe(v.string("must be a string"), v.maxLength(500, "must be at most 500 characters"))),
    options: v.nullish(
      v.pipe(
        v.array(v.pipe(v.string("must be a string"), v.nonEmpty("must not be empty"), v.maxLength(200, "must be at most 200 characters")), "must be an array of strings"),
        v.maxLength(MAX_OPTIONS, `must have at most ${MAX_OPTIONS} options`),
      ),
    ),
    // null means "no default", as an unset google.protobuf.Value arrives
    default: v.optional(JsonValueSchema),
  },
  "must be an object",
);

/** Drops unset and empty settings, so equal definitions have one shape (see isSameDefinition). */
function normalizeField(f: v.InferOutput<typeof FieldInputSchema>) {
  const field: {
    name: string;
    label: string;
    type: FieldType;
    required: boolean;
    min?: number;
    max?: number;
    min_length?: number;
    max_length?: number;
    pattern?: string;
    options?: string[];
    default?: JsonValue;
  } = { name: f.name, label: f.label || f.name, type: f.type, required: f.required ?? false };
  if (f.min != null) field.min = f.min;
  if (f.max != null) field.max = f.max;
  if (f.min_length != null) field.min_length = f.min_length;
  if (f.max_length != null) field.max_length = f.max_length;
  if (f.pattern) field.pattern = f.pattern;
  if (f.options && f.options.length > 0) field.options = f.options;
  if (f.default !== undefined && f.default !== null) field.default = f.default;
  return field;
}

export const FormFieldSchema = v.pipe(FieldInputSchema, v.transform(normalizeField));

export const FormDefinitionSchema = v.pipe(
  v.strictObject(
    {
      key: KeySchema,
      title: v.nullish(v.pipe(v.string("must be a string"), v.maxLength(200, "must be at most 200 characters"))),
      fields: v.pipe(v.array(FormFieldSchema, "must be an array of fields"), v.maxLength(MAX_FIELDS, `must have at most ${MAX_FIELDS} fields`)),
      // accepted and ignored, so a fetched definition can be edited and published again
      version: v.optional(v.unknown()),
      created_at: v.optional(v.unknown()),
    },
    "must be a JSON object",
  ),
  v.transform((d) => ({ key: d.key, title: d.title || d.key, fields: d.fields })),
);

export type FormField = v.InferOutput<typeof FormFieldSchema>;
/** A definition's content; the store adds version and created_at. */
export type FormDefinition = v.InferOutput<typeof FormDefinitionSchema>;
export type FormDefinitionInput = v.InferInput<typeof FormDefinitionSchema>;
export type StoredFormDefinition = FormDefinition & { version: number; created_at: string };
