/** Tokens of the condition language; `at` is the 1-based column, for error messages. */
export type Token =
  | { type: "number"; value: number; at: number }
  | { type: "string"; value: string; at: number }
  | { type: "name"; value: string; at: number }
  | { type: "op"; value: Operator; at: number }
  | { type: "end"; at: number };

export type Operator = "==" | "!=" | "<" | "<=" | ">" | ">=" | "&&" | "||" | "!" | "(" | ")" | "-" | ".";

export class ExpressionError extends Error {
  constructor(message: string, readonly column: number) {
    super(`${message} at column ${column}`);
    this.name = "ExpressionError";
  }
}

export const MAX_CONDITION_LENGTH = 1_000;

const TWO_CHAR = new Set(["==", "!=", "<=", ">=", "&&", "||"]);
const ONE_CHAR = new Set(["<", ">", "!", "(", ")", "-", "."]);
const ESCAPES: Record<string, string> = { n: "\n", t: "\t", "\\": "\\", '"': '"', "'": "'" };

export function tokenize(source: string): Token[] {
  if (source.length > MAX_CONDITION_LENGTH) throw new ExpressionError(`condition longer than ${MAX_CONDITION_LENGTH} characters`, MAX_CONDITION_LENGTH);
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const at = i + 1;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(?:\.[0-9]+)?/.exec(source.slice(i))![0];
      if (/[A-Za-z_.]/.test(source[i + m.length] ?? "")) throw new ExpressionError(`malformed number`, at);
      tokens.push({ type: "number", value: Number(m), at });
      i += m.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))![0];
      tokens.push({ type: "name", value: m, at });
      i += m.length;
    } else if (c === '"' || c === "'") {
      let value = "";
      let j = i + 1;
      for (;;) {
        const d = source[j];
        if (d === undefined) throw new ExpressionError("unterminated string", at);
        if (d === c) break;
        if (d === "\\") {
          const e = source[j + 1];
          if (e === undefined || !(e in ESCAPES)) throw new ExpressionError(`unknown escape \\${e ?? ""}`, j + 1);
          value += ESCAPES[e];
          j += 2;
        } else {
          value += d;
          j++;
        }
      }
      tokens.push({ type: "string", value, at });
      i = j + 1;
    } else {
      const two = source.slice(i, i + 2);
      if (TWO_CHAR.has(two)) {
        tokens.push({ type: "op", value: two as Operator, at });
        i += 2;
      } else if (ONE_CHAR.has(c)) {
        tokens.push({ type: "op", value: c as Operator, at });
        i++;
      } else if (c === "=") {
        throw new ExpressionError("use == to compare", at);
      } else if (c === "&" || c === "|") {
        throw new ExpressionError(`use ${c}${c}`, at);
      } else {
        throw new ExpressionError(`unexpected character ${JSON.stringify(c)}`, at);
      }
    }
  }
  tokens.push({ type: "end", at: source.length + 1 });
  return tokens;
}
