// The rule condition language: parsed once into data, evaluated by walking it. No eval, no Function.
import { evaluate, truthy } from "./evaluate.ts";
import { parseExpression, type Expr } from "./parse.ts";

export { ExpressionError, MAX_CONDITION_LENGTH } from "./tokenize.ts";
export { parseExpression, type Comparison, type Expr, type Literal } from "./parse.ts";
export { evaluate, truthy } from "./evaluate.ts";

export interface Condition {
  readonly source: string;
  readonly expr: Expr;
  /** True when the condition holds for these variables. */
  test(scope: Record<string, unknown>): boolean;
}

const MAX_CACHED = 5_000;
const cache = new Map<string, Condition>();

/** Parses (once per distinct source text) and returns a reusable condition; throws ExpressionError. */
export function compileCondition(source: string): Condition {
  const hit = cache.get(source);
  if (hit) return hit;
  const expr = parseExpression(source);
  const condition: Condition = { source, expr, test: (scope) => truthy(evaluate(expr, scope)) };
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(source, condition);
  return condition;
}

/** Every variable path a condition reads, e.g. ["approved", "manager.id"]. */
export function variablesOf(expr: Expr): string[] {
  switch (expr.kind) {
    case "literal": return [];
    case "variable": return [expr.path.join(".")];
    case "not": return variablesOf(expr.operand);
    default: return [...new Set([...variablesOf(expr.left), ...variablesOf(expr.right)])];
  }
}
