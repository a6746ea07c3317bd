import { ExpressionError, tokenize, type Operator, type Token } from "./tokenize.ts";

export type Comparison = "==" | "!=" | "<" | "<=" | ">" | ">=";
export type Literal = null | boolean | number | string;

/** A parsed condition: data only, walked by evaluate(); nothing in it can run code. */
export type Expr =
  | { kind: "literal"; value: Literal }
  | { kind: "variable"; path: string[] }
  | { kind: "not"; operand: Expr }
  | { kind: "and" | "or"; left: Expr; right: Expr }
  | { kind: "compare"; op: Comparison; left: Expr; right: Expr };

const COMPARISONS = new Set<string>(["==", "!=", "<", "<=", ">", ">="]);
const KEYWORDS: Record<string, Literal> = { true: true, false: false, null: null };
const MAX_DEPTH = 32;

/**
 * Grammar, loosest first (JavaScript precedence):
 *   or      = and ("||" and)*
 *   and     = compare ("&&" compare)*
 *   compare = unary (("==" | "!=" | "<" | "<=" | ">" | ">=") unary)?   — not chained
 *   unary   = "!" unary | primary
 *   primary = number | "-" number | string | true | false | null | name ("." name)* | "(" or ")"
 */
export function parseExpression(source: string): Expr {
  const tokens = tokenize(source);
  let pos = 0;
  let depth = 0;
  const peek = (): Token => tokens[pos]!;
  const isOp = (t: Token, op: Operator) => t.type === "op" && t.value === op;
  const describe = (t: Token) => (t.type === "end" ? "end of condition" : t.type === "string" ? JSON.stringify(t.value) : `'${t.value}'`);
  const fail = (t: Token, expected: string): never => {
    throw new ExpressionError(`expected ${expected} but found ${describe(t)}`, t.at);
  };

  function or(): Expr {
    let left = and();
    while (isOp(peek(), "||")) {
      pos++;
      left = { kind: "or", left, right: and() };
    }
    return left;
  }

  function and(): Expr {
    let left = compare();
    while (isOp(peek(), "&&")) {
      pos++;
      left = { kind: "and", left, right: compare() };
    }
    return left;
  }

  function compare(): Expr {
    const left = unary();
    const t = peek();
    if (t.type !== "op" || !COMPARISONS.has(t.value)) return left;
    pos++;
    const right = unary();
    const next = peek();
    if (next.type === "op" && COMPARISONS.has(next.value)) throw new ExpressionError("comparisons cannot be chained; join them with &&", next.at);
    return { kind: "compare", op: t.value as Comparison, left, right };
  }

  function unary(): Expr {
    const t = peek();
    if (isOp(t, "!")) {
      pos++;
      return nested(() => ({ kind: "not", operand: unary() }), t);
    }
    return primary();
  }

  function primary(): Expr {
    const t = peek();
    pos++;
    switch (t.type) {
      case "number": return { kind: "literal", value: t.value };
      case "string": return { kind: "literal", value: t.value };
      case "name": {
        if (Object.hasOwn(KEYWORDS, t.value)) return { kind: "literal", value: KEYWORDS[t.value]! };
        const path = [t.value];
        while (isOp(peek(), ".")) {
          pos++;
          const part = peek();
          if (part.type !== "name") fail(part, "a name after '.'");
          path.push((part as { value: string }).value);
          pos++;
        }
        if (isOp(peek(), "(")) throw new ExpressionError("function calls are not part of the condition language", peek().at);
        return { kind: "variable", path };
      }
      case "op":
        if (t.value === "-") {
          const n = peek();
          if (n.type !== "number") fail(n, "a number after '-'");
          pos++;
          return { kind: "literal", value: -(n as { value: number }).value };
        }
        if (t.value === "(") {
          const inner = nested(or, t);
          if (!isOp(peek(), ")")) fail(peek(), "')'");
          pos++;
          return inner;
        }
        return fail(t, "a value or a variable");
      case "end":
        return fail(t, "a value or a variable");
    }
  }

  function nested(fn: () => Expr, t: Token): Expr {
    if (++depth > MAX_DEPTH) throw new ExpressionError(`nested deeper than ${MAX_DEPTH} levels`, t.at);
    const e = fn();
    depth--;
    return e;
  }

  const expr = or();
  if (peek().type !== "end") fail(peek(), "an operator or end of condition");
  return expr;
}
