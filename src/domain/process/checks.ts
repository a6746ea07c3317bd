import type { DefinitionProblem } from "../forms/issues.ts";
import { parseAssignee } from "./assignee.ts";
import type { ProcessDefinition } from "./definition-schema.ts";
import { ExpressionError, compileCondition } from "./expression/index.ts";
import { END, edgesOf, findStuckSteps, findUnreachableSteps } from "./graph.ts";

/** Whether form `key` exists (in `version`, when the step pins one). */
export type FormExists = (key: string, version?: number) => boolean | Promise<boolean>;

/** Every rule that needs more than one setting, the forms and the shape of the graph. */
export async function checkProcess(def: ProcessDefinition, formExists: FormExists): Promise<DefinitionProblem[]> {
  const problems: DefinitionProblem[] = [];
  const stepIndex = new Map<string, number>();
  const endIds = new Set<string>([END]);

  def.end_states.forEach((end, i) => {
    if (end.id !== END && endIds.has(end.id)) problems.push({ path: `end_states[${i}].id`, message: `duplicate end state id "${end.id}"` });
    endIds.add(end.id);
  });

  def.steps.forEach((step, i) => {
    const at = (path: string, message: string) => problems.push({ path: `steps[${i}]${path}`, step: step.id, message });
    if (stepIndex.has(step.id)) at(".id", `duplicate step id "${step.id}" (also steps[${stepIndex.get(step.id)}])`);
    else if (endIds.has(step.id)) at(".id", `"${step.id}" is an end state id; steps and end states need different ids`);
    else stepIndex.set(step.id, i);

    const assignee = parseAssignee(step.assignee);
    if (typeof assignee === "string") at(".assignee", assignee);
  });

  let danglingReference = false;
  const known = (id: string) => stepIndex.has(id) || endIds.has(id);
  def.steps.forEach((step, i) => {
    const at = (path: string, message: string) => problems.push({ path: `steps[${i}]${path}`, step: step.id, message });
    step.transitions.forEach((rule, j) => {
      try {
        compileCondition(rule.condition);
      } catch (err) {
        if (!(err instanceof ExpressionError)) throw err;
        at(`.transitions[${j}].condition`, `invalid condition: ${err.message}`);
      }
      if (!known(rule.target)) {
        danglingReference = true;
        at(`.transitions[${j}].target`, `unknown target "${rule.target}" (no step or end state has that id)`);
      }
    });
    if (step.default_next !== undefined && !known(step.default_next)) {
      danglingReference = true;
      at(".default_next", `unknown target "${step.default_next}" (no step or end state has that id)`);
    }
  });

  const forms = new Map<string, { key: string; version?: number; steps: number[] }>();
  def.steps.forEach((step, i) => {
    const id = `${step.form_key}@${step.form_version ?? 0}`;
    const entry = forms.get(id) ?? { key: step.form_key, version: step.form_version, steps: [] };
    entry.steps.push(i);
    forms.set(id, entry);
  });
  const found = await Promise.all([...forms.values()].map((f) => formExists(f.key, f.version)));
  [...forms.values()].forEach((f, n) => {
    if (found[n]) return;
    for (const i of f.steps) {
      const missing = f.version ? `form "${f.key}" has no version ${f.version}` : `form "${f.key}" does not exist`;
      problems.push({ path: `steps[${i}].form_key`, step: def.steps[i]!.id, message: missing });
    }
  });

  // the graph is only judged once every reference resolves, so one typo gives one problem
  if (!danglingReference && stepIndex.size === def.steps.length) {
    const edges = edgesOf(def.steps);
    const first = def.steps[0]!.id;
    const unreachable = findUnreachableSteps(first, edges);
    for (const id of unreachable) {
      problems.push({ path: `steps[${stepIndex.get(id)}]`, step: id, message: `step "${id}" cannot be reached from the first step "${first}"` });
    }
    for (const { id, cycle } of findStuckSteps(edges, endIds)) {
      if (unreachable.has(id)) continue;
      const loop = cycle.join(" → ");
      const message = cycle[0] === id ? `cycle with no path to an end: ${loop}` : `step "${id}" only leads into a cycle with no path to an end: ${loop}`;
      problems.push({ path: `steps[${stepIndex.get(id)}]`, step: id, message });
    }
  }
  return problems;
}
