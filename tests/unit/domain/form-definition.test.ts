import { describe, expect, test } from "bun:test";
import { parseFormDefinition, type DefinitionProblem } from "../../../src/domain/forms/index.ts";
import { ValidationError } from "../../../src/platform/errors.ts";

const leave = {
  key: "leave-request",
  title: "Leave request",
  fields: [
    { name: "start_date", label: "First day", type: "date", required: true },
    { name: "days", type: "integer", required: true, min: 1, max: 30 },
    { name: "kind", type: "enum", options: ["annual", "sick", "unpaid"], default: "annual" },
    { name: "reason", type: "string", max_length: 500, pattern: "^[^<>]*$" },
    { name: "contact", type: "email" },
    { name: "approved", type: "boolean" },
  ],
};

function problemsOf(input: unknown): DefinitionProblem[] {
  try {
    parseFormDefinition(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).httpStatus).toBe(400);
    return (err as ValidationError).details as DefinitionProblem[];
  }
  throw new Error("definition was accepted");
}

function withField(field: Record<string, unknown>) {
  return { key: "f", title: "F", fields: [{ name: "ok", type: "string" }, field] };
}

describe("parseFormDefinition", () => {
  test("accepts a valid definition and normalizes it (label defaults to name, required to false)", () => {
    const def = parseFormDefinition(leave);
    expect(def.key).toBe("leave-request");
    expect(def.fields).toHaveLength(6);
    expect(def.fields[1]).toEqual({ name: "days", label: "days", type: "integer", required: true, min: 1, max: 30 });
    expect(def.fields[2]!.default).toBe("annual");
  });

  test("unset settings as a proto3 client sends them (empty strings, empty lists, null) mean 'not set'", () => {
    const def = parseFormDefinition({
      key: "f", title: "", fields: [{ name: "a", label: "", type: "string", required: false, pattern: "", options: [], default: null, min_length: null }],
    });
    expect(def).toEqual({ key: "f", title: "f", fields: [{ name: "a", label: "a", type: "string", required: false }] });
  });

  test("an unknown field type names the field and lists the allowed types", () => {
    const [p, ...rest] = problemsOf(withField({ name: "when", type: "datetime" }));
    expect(rest).toEqual([]);
    expect(p!.path).toBe("fields[1].type");
    expect(p!.field).toBe("when");
    expect(p!.message).toContain('unknown type "datetime"');
    expect(p!.message).toContain("enum");
  });

  test("duplicate field names are refused, pointing at the second one", () => {
    const problems = problemsOf({ key: "f", fields: [{ name: "a", type: "string" }, { name: "b", type: "string" }, { name: "a", type: "number" }] });
    expect(problems).toEqual([{ path: "fields[2].name", field: "a", message: 'duplicate field name "a" (also fields[0])' }]);
  });

  test("min greater than max is refused", () => {
    expect(problemsOf(withField({ name: "n", type: "number", min: 5, max: 1 }))).toEqual([
      { path: "fields[1].min", field: "n", message: "min (5) is greater than max (1)" },
    ]);
  });

  test("min_length greater than max_length is refused", () => {
    expect(problemsOf(withField({ name: "s", type: "string", min_length: 10, max_length: 3 }))).toEqual([
      { path: "fields[1].min_length", field: "s", message: "min_length (10) is greater than max_length (3)" },
    ]);
  });

  test("a pattern that is not a JavaScript regular expression is refused", () => {
    const [p] = problemsOf(withField({ name: "code", type: "string", pattern: "([A-Z]" }));
    expect(p!.path).toBe("fields[1].pattern");
    expect(p!.field).toBe("code");
    expect(p!.message).toStartWith("invalid regular expression");
  });

  test("the error message itself names the field setting, for clients that only show the message", () => {
    try {
      parseFormDefinition(withField({ name: "code", type: "string", pattern: "(" }));
      throw new Error("accepted");
    } catch (err) {
      expect((err as Error).message).toStartWith("invalid form definition: fields[1].pattern: invalid regular expression");
    }
  });

  test("an enum needs options, and options belong to enums only", () => {
    expect(problemsOf(withField({ name: "e", type: "enum" }))).toEqual([
      { path: "fields[1].options", field: "e", message: "enum fields need at least one option" },
    ]);
    expect(problemsOf(withField({ name: "s", type: "string", options: ["a"] }))).toEqual([
      { path: "fields[1].options", field: "s", message: "only enum fields take options" },
    ]);
  });

  test("settings that do not apply to the type are refused rather than silently ignored", () => {
    const problems = problemsOf(withField({ name: "b", type: "boolean", min: 1, max_length: 3, pattern: "x" }));
    expect(problems.map((p) => p.path)).toEqual(["fields[1].min", "fields[1].max_length", "fields[1].pattern"]);
  });

  test("a default must itself satisfy the field", () => {
    expect(problemsOf(withField({ name: "days", type: "integer", min: 1, default: 0 }))).toEqual([
      { path: "fields[1].default", field: "days", message: "default 0 must be at least 1" },
    ]);
    expect(problemsOf(withField({ name: "k", type: "enum", options: ["a"], default: "b" }))[0]!.path).toBe("fields[1].default");
    expect(problemsOf(withField({ name: "d", type: "date", default: "2024-02-30" }))[0]!.path).toBe("fields[1].default");
  });

  test("every problem is reported at once, not just the first", () => {
    const problems = problemsOf({
      key: "f",
      fields: [
        { name: "a", type: "number", min: 3, max: 1 },
        { name: "b", type: "string", pattern: "[" },
        { name: "a", type: "string" },
      ],
    });
    expect(problems.map((p) => p.path)).toEqual(["fields[0].min", "fields[1].pattern", "fields[2].name"]);
  });

  test("bad shapes name their path: key, field names, unknown settings", () => {
    expect(problemsOf({ key: "has space", fields: [] })[0]!.path).toBe("key");
    expect(problemsOf(withField({ name: "1st", type: "string" }))[0]).toMatchObject({ path: "fields[1].name" });
    expect(problemsOf(withField({ name: "__proto__", type: "string" }))[0]).toMatchObject({ path: "fields[1].name" });
    expect(problemsOf(withField({ name: "s", type: "string", minLength: 3 }))).toEqual([
      { path: "fields[1].minLength", field: "s", message: "unknown key" },
    ]);
    expect(problemsOf(withField({ name: "n", type: "number", min: "3" }))[0]).toMatchObject({ path: "fields[1].min", message: "must be a number" });
    expect(problemsOf(null)[0]!.message).toBe("must be a JSON object");
  });

  test("a fetched definition (with version and created_at) can be published again", () => {
    const def = parseFormDefinition({ ...leave, version: 3, created_at: "2024-01-01T00:00:00Z" });
    expect(def).toEqual(parseFormDefinition(leave));
  });
});
