import * as v from "valibot";
import { ValidationError } from "../../core/errors.ts";
import { nameProblems, problemsFromIssues, summarize, type DefinitionProblem } from "../forms/issues.ts";
import { canonicalJson } from "../forms/json.ts";
import { checkProcess, type FormExists } from "./checks.ts";
import { ProcessDefinitionSchema, type ProcessDefinition } from "./definition-schema.ts";

export { END } from "./graph.ts";
export {
  ID_PATTERN,
  PRIORITIES,
  ProcessDefinitionSchema,
  type EndState,
  type Priority,
  type ProcessDefinition,
  type ProcessDefinitionInput,
  type Rule,
  type Step,
  type StoredProcessDefinition,
} from "./definition-schema.ts";
export type { FormExists };

/**
 * Checks a definition a user wants to deploy and returns it normalized. Throws ValidationError (400)
 * whose details name every problem (`{ path: "steps[1].transitions[0].target", step, message }`).
 * `formExists` is asked once per distinct form key (and pinned version); its own errors (a form-service
 * outage) propagate unchanged.
 */
export async function parseProcessDefinition(input: unknown, formExists: FormExists): Promise<ProcessDefinition> {
  const parsed = v.safeParse(ProcessDefinitionSchema, input);
  if (!parsed.success) fail(nameProblems(problemsFromIssues(parsed.issues), input, "steps"));
  const problems = await checkProcess(parsed.output, formExists);
  if (problems.length > 0) fail(problems);
  return parsed.output;
}

function fail(problems: DefinitionProblem[]): never {
  throw new ValidationError(summarize("process definition", problems), problems);
}

/** True when deploying `b` over `a` would change nothing (version and timestamps aside). */
export function isSameProcessDefinition(a: ProcessDefinition, b: ProcessDefinition): boolean {
  const content = (d: ProcessDefinition) => canonicalJson({ key: d.key, name: d.name, steps: d.steps, end_states: d.end_states });
  return content(a) === content(b);
}
