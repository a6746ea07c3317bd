import { ValidationError } from "../../core/errors.ts";
import { readPath, type JsonObject } from "../forms/json.ts";

/** task.proto's user_id is int32. */
export const MAX_USER_ID = 2_147_483_647;

export type Assignee = { kind: "user"; userId: number } | { kind: "variable"; name: string; path: string[] };

const LITERAL = /^[1-9][0-9]{0,9}$/;
const VARIABLE = /^\$\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}$/;

/** "7" → user 7; "${manager_id}" → read variable manager_id when the step starts. Returns an error message when neither. */
export function parseAssignee(raw: string): Assignee | string {
  const text = raw.trim();
  if (LITERAL.test(text) && Number(text) <= MAX_USER_ID) return { kind: "user", userId: Number(text) };
  const m = VARIABLE.exec(text);
  if (m) return { kind: "variable", name: m[1]!, path: m[1]!.split(".") };
  return `must be a user id (1 to ${MAX_USER_ID}) or a variable like \${manager_id}`;
}

/** A user id from a variable: a whole number in int32 range, or a string of digits holding one. */
export function asUserId(value: unknown): number | undefined {
  const n = typeof value === "number" ? value : typeof value === "string" && LITERAL.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) && n >= 1 && n <= MAX_USER_ID ? n : undefined;
}

/** The user a step is assigned to, given the instance variables; throws ValidationError naming the variable. */
export function resolveAssignee(stepId: string, raw: string, variables: JsonObject): number {
  const spec = parseAssignee(raw);
  if (typeof spec === "string") throw new ValidationError(`step "${stepId}": assignee ${spec}`, [{ path: "assignee", step: stepId, message: spec }]);
  if (spec.kind === "user") return spec.userId;
  const value = readPath(variables, spec.path);
  const userId = asUserId(value);
  if (userId !== undefined) return userId;
  const problem = value === undefined || value === null
    ? `variable ${spec.name} is not set`
    : `variable ${spec.name} is ${JSON.stringify(value)}, not a user id`;
  throw new ValidationError(`step "${stepId}": cannot assign: ${problem}`, [{ path: `variables.${spec.name}`, step: stepId, message: problem }]);
}
