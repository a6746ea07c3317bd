import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { compileCondition, ExpressionError, parseExpression, variablesOf } from "../../../src/domain/process/expression/index.ts";

const holds = (source: string, scope: Record<string, unknown> = {}) => compileCondition(source).test(scope);
const errorOf = (source: string): string => {
  try {
    parseExpression(source);
  } catch (err) {
    expect(err).toBeInstanceOf(ExpressionError);
    return (err as Error).message;
  }
  throw new Error(`parsed: ${source}`);
};

describe("condition language", () => {
  test("comparisons on submitted values", () => {
    expect(holds("approved == false", { approved: false })).toBe(true);
    expect(holds("approved == false", { approved: true })).toBe(false);
    expect(holds("days > 10", { days: 11 })).toBe(true);
    expect(holds("days >= 10", { days: 10 })).toBe(true);
    expect(holds("days < 10", { days: 10 })).toBe(false);
    expect(holds("days <= -1", { days: -2 })).toBe(true);
    expect(holds("rate != 1.5", { rate: 1.5 })).toBe(false);
    expect(holds("kind == 'sick'", { kind: "sick" })).toBe(true);
    expect(holds('kind != "sick"', { kind: "annual" })).toBe(true);
  });

  test("&& binds tighter than ||, ! tighter than ==, parentheses override", () => {
    const scope = { a: true, b: false, c: true };
    expect(holds("a || b && false", scope)).toBe(true);
    expect(holds("(a || b) && false", scope)).toBe(false);
    expect(holds("!b == true", scope)).toBe(true);
    expect(holds("!(a && c)", scope)).toBe(false);
    expect(holds("!!a", scope)).toBe(true);
  });

  test("dotted variables read nested objects; a missing one is null", () => {
    expect(holds("manager.level >= 2", { manager: { level: 3 } })).toBe(true);
    expect(holds("manager.level == null", { manager: {} })).toBe(true);
    expect(holds("nothing.here == null", {})).toBe(true);
    expect(holds("missing", {})).toBe(false);
  });

  test("no coercion: different types are never equal and never ordered", () => {
    expect(holds("days == '3'", { days: 3 })).toBe(false);
    expect(holds("days > '2'", { days: 3 })).toBe(false);
    expect(holds("flag == 1", { flag: true })).toBe(false);
    expect(holds("x == null", { x: 0 })).toBe(false);
  });

  test("strings order as text, so ISO dates compare correctly", () => {
    expect(holds("start_date < '2025-07-01'", { start_date: "2025-06-30" })).toBe(true);
    expect(holds("start_date < '2025-07-01'", { start_date: "2025-07-01" })).toBe(false);
  });

  test("escapes in strings", () => {
    expect(holds(String.raw`note == "say \"hi\"\n"`, { note: 'say "hi"\n' })).toBe(true);
    expect(holds(String.raw`note == 'it\'s'`, { note: "it's" })).toBe(true);
  });

  test("syntax errors say what and where", () => {
    expect(errorOf("approved = false")).toBe("use == to compare at column 10");
    expect(errorOf("a & b")).toBe("use && at column 3");
    expect(errorOf("(days > 1")).toBe("expected ')' but found end of condition at column 10");
    expect(errorOf("days >")).toBe("expected a value or a variable but found end of condition at column 7");
    expect(errorOf("'open")).toBe("unterminated string at column 1");
    expect(errorOf("1 < x < 3")).toBe("comparisons cannot be chained; join them with && at column 7");
    expect(errorOf("a b")).toBe("expected an operator or end of condition but found 'b' at column 3");
    expect(errorOf("")).toBe("expected a value or a variable but found end of condition at column 1");
    expect(errorOf("days > 1.")).toBe("malformed number at column 8");
    expect(errorOf("a.")).toBe("expected a name after '.' but found end of condition at column 3");
    expect(errorOf("x == `y`")).toBe('unexpected character "`" at column 6');
  });

  test("cannot call or build code: calls, brackets, assignment and templates are not in the grammar", () => {
    expect(errorOf("constructor.constructor('return process')()")).toContain("function calls are not part of the condition language");
    expect(errorOf("process.exit(1)")).toContain("function calls are not part of the condition language");
    expect(errorOf("x['constructor']")).toContain("unexpected character");
    expect(errorOf("a = 1")).toContain("use ==");
    expect(errorOf("a; b")).toContain("unexpected character");
    expect(errorOf("`${1}`")).toContain("unexpected character");
  });

  test("variables never reach prototypes or globals", () => {
    expect(holds("constructor == null", {})).toBe(true);
    expect(holds("x.constructor == null", { x: {} })).toBe(true);
    expect(holds("__proto__ == null", {})).toBe(true);
    expect(holds("toString", {})).toBe(false);
    expect(holds("process == null", {})).toBe(true);
    expect(holds("globalThis == null", {})).toBe(true);
  });

  test("the engine's source has no eval and no Function constructor", () => {
    const dir = join(import.meta.dir, "../../../src/domain/process");
    const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      const text = readFileSync(join(dir, f), "utf8");
      expect({ f, evil: /\beval\s*\(|\bnew\s+Function\b|\bFunction\s*\(/.test(text) }).toEqual({ f, evil: false });
    }
  });

  test("pathological input is refused rather than overflowing the stack", () => {
    expect(errorOf("!".repeat(200) + "a")).toContain("nested deeper than 32 levels");
    expect(errorOf("(".repeat(100) + "a" + ")".repeat(100))).toContain("nested deeper than 32 levels");
    expect(errorOf("a || ".repeat(300) + "a")).toContain("condition longer than 1000 characters");
  });

  test("parsed once: the same text gives the same compiled condition", () => {
    expect(compileCondition("days > 10")).toBe(compileCondition("days > 10"));
  });

  test("variablesOf lists what a condition reads", () => {
    expect(variablesOf(parseExpression("approved == false && (manager.id != null || days > 3) && approved"))).toEqual(["approved", "manager.id", "days"]);
  });
});
