import * as v from "valibot";
import { ValidationError } from "../../core/errors.ts";
import { FormDefinitionSchema, type FormDefinition } from "./definition-schema.ts";
import { checkFields } from "./field-checks.ts";
import { nameProblems, problemsFromIssues, summarize } from "./issues.ts";

export {
  FIELD_TYPES,
  FormDefinitionSchema,
  FormFieldSchema,
  KEY_PATTERN,
  KeySchema,
  type FieldType,
  type FormDefinition,
  type FormDefinitionInput,
  type FormField,
  type StoredFormDefinition,
} from "./definition-schema.ts";

/**
 * Checks a definition a user wants to publish and returns it normalized.
 * Throws ValidationError (400) whose details name every problem: `[{ path: "fields[2].pattern", message, field }]`.
 */
export function parseFormDefinition(input: unknown): FormDefinition {
  const parsed = v.safeParse(FormDefinitionSchema, input);
  if (!parsed.success) {
    const problems = nameProblems(problemsFromIssues(parsed.issues), input, "fields");
    throw new ValidationError(summarize("form definition", problems), problems);
  }
  const problems = checkFields(parsed.output.fields);
  if (problems.length > 0) throw new ValidationError(summarize("form definition", problems), problems);
  return parsed.output;
}
