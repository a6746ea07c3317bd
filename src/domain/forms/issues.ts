import * as v from "valibot";

/** One problem in a definition, addressed the way a user reads their JSON: `fields[2].pattern`. */
export interface DefinitionProblem {
  path: string;
  message: string;
  /** The form field the problem is about, when there is one. */
  field?: string;
  /** The process step the problem is about, when there is one. */
  step?: string;
}

/** Adds `field` (or `step`) to problems under `fields[i]` (or `steps[i]`), read from the raw input. */
export function nameProblems(problems: DefinitionProblem[], input: unknown, list: "fields" | "steps"): DefinitionProblem[] {
  const items = (input as Record<string, unknown> | null)?.[list];
  const prefix = new RegExp(`^${list}\\[(\\d+)\\]`);
  return problems.map((p) => {
    const index = prefix.exec(p.path)?.[1];
    const item = index !== undefined && Array.isArray(items) ? (items[Number(index)] as Record<string, unknown> | null) : undefined;
    const name = item?.[list === "fields" ? "name" : "id"];
    if (typeof name !== "string" || name === "") return p;
    return list === "fields" ? { ...p, field: p.field ?? name } : { ...p, step: p.step ?? name };
  });
}

export function formatPath(parts: readonly (string | number)[]): string {
  let out = "";
  for (const part of parts) out += typeof part === "number" ? `[${part}]` : out === "" ? part : `.${part}`;
  return out;
}

/** Valibot issues to problems, one per issue; a strict object's unknown key is named as such. */
export function problemsFromIssues(issues: readonly v.BaseIssue<unknown>[]): DefinitionProblem[] {
  return issues.map((issue) => {
    const keys = (issue.path ?? []).map((item) => item.key as string | number);
    if (issue.type === "strict_object" && issue.kind === "schema" && keys.length > 0 && issue.input === keys.at(-1)) {
      return { path: formatPath(keys), message: "unknown key" };
    }
    return { path: formatPath(keys), message: issue.message };
  });
}

/** "fields[2].pattern: invalid regular expression; …" — the first few problems, for the error line. */
export function summarize(what: string, problems: readonly DefinitionProblem[]): string {
  const shown = problems.slice(0, 3).map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
  const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : "";
  return `invalid ${what}: ${shown.join("; ")}${more}`;
}
