import { canonicalJson, readPath, type JsonValue } from "../../forms/json.ts";
import type { Expr } from "./parse.ts";

/** false, null, a missing variable, 0 and "" are false; everything else is true. */
export function truthy(value: JsonValue | undefined): boolean {
  return !(value === undefined || value === null || value === false || value === 0 || value === "");
}

/** No type coercion: 1 == "1" is false; a missing variable equals null. */
function equals(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return canonicalJson(a) === canonicalJson(b);
}

/** Ordering only between two numbers or two strings (ISO dates order correctly as strings); otherwise false. */
function ordered(a: JsonValue, b: JsonValue, op: "<" | "<=" | ">" | ">="): boolean {
  if (!((typeof a === "number" && typeof b === "number") || (typeof a === "string" && typeof b === "string"))) return false;
  switch (op) {
    case "<": return a < b;
    case "<=": return a <= b;
    case ">": return a > b;
    case ">=": return a >= b;
  }
}

export function evaluate(expr: Expr, scope: Record<string, unknown>): JsonValue {
  switch (expr.kind) {
    case "literal": return expr.value;
    case "variable": return readPath(scope, expr.path) ?? null;
    case "not": return !truthy(evaluate(expr.operand, scope));
    case "and": return truthy(evaluate(expr.left, scope)) && truthy(evaluate(expr.right, scope));
    case "or": return truthy(evaluate(expr.left, scope)) || truthy(evaluate(expr.right, scope));
    case "compare": {
      const a = evaluate(expr.left, scope);
      const b = evaluate(expr.right, scope);
      if (expr.op === "==") return equals(a, b);
      if (expr.op === "!=") return !equals(a, b);
      return ordered(a, b, expr.op);
    }
  }
}
