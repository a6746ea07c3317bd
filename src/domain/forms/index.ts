// Form definitions and submissions: pure rules, no I/O. See docs/bpm-model.md.
export {
  FIELD_TYPES,
  FormDefinitionSchema,
  FormFieldSchema,
  KEY_PATTERN,
  KeySchema,
  parseFormDefinition,
  type FieldType,
  type FormDefinition,
  type FormDefinitionInput,
  type FormField,
  type StoredFormDefinition,
} from "./definition.ts";
export { MAX_TEXT_LENGTH, type FieldErrorCode } from "./field-schema.ts";
export type { DefinitionProblem } from "./issues.ts";
export { canonicalJson, isPlainObject, JsonObjectSchema, JsonValueSchema, readPath, type JsonObject, type JsonValue } from "./json.ts";
export { fromStruct, fromValue, toStruct, toValue, type WireStruct, type WireValue } from "./struct.ts";
export { buildSubmissionSchema, formValidationError, validateSubmission, type FieldError, type SubmissionResult } from "./submission.ts";
export { isSameDefinition, nextVersion, type PublishDecision } from "./versioning.ts";
export { formInputFromWire, formToWire } from "./wire.ts";
