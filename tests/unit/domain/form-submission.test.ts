import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import {
  buildSubmissionSchema,
  fromStruct,
  isSameDefinition,
  nextVersion,
  parseFormDefinition,
  toStruct,
  validateSubmission,
  type FormDefinition,
} from "../../../src/domain/forms/index.ts";

const leave = parseFormDefinition({
  key: "leave-request",
  title: "Leave request",
  fields: [
    { name: "start_date", type: "date", required: true },
    { name: "days", type: "integer", required: true, min: 1, max: 30 },
    { name: "kind", type: "enum", options: ["annual", "sick", "unpaid"], default: "annual" },
    { name: "reason", type: "string", min_length: 3, max_length: 50, pattern: "^[^<>]*$" },
    { name: "contact", type: "email" },
    { name: "urgent", type: "boolean" },
    { name: "rate", type: "number", min: 0.5 },
  ],
});
const v1 = { ...leave, version: 1 };

describe("validateSubmission", () => {
  test("valid data is accepted with defaults applied and unset optional fields left out", () => {
    expect(validateSubmission(v1, { start_date: "2025-07-01", days: 3 })).toEqual({
      ok: true,
      value: { start_date: "2025-07-01", days: 3, kind: "annual" },
    });
  });

  test("one detail per failing field, all fields checked, in the form's order", () => {
    const result = validateSubmission(v1, {
      days: 40, kind: "holiday", reason: "<script>", contact: "not-an-email", urgent: "yes", rate: 0.1,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.details).toEqual([
      { field: "start_date", code: "required", message: "is required" },
      { field: "days", code: "max", message: "must be at most 30" },
      { field: "kind", code: "enum", message: "must be one of: annual, sick, unpaid" },
      { field: "reason", code: "pattern", message: "must match the pattern ^[^<>]*$" },
      { field: "contact", code: "email", message: "must be a valid email address" },
      { field: "urgent", code: "type", message: "must be true or false" },
      { field: "rate", code: "min", message: "must be at least 0.5" },
    ]);
  });

  test("a field breaking several rules gets one detail (its first broken rule)", () => {
    const result = validateSubmission(v1, { start_date: "2025-07-01", days: 2.5, reason: "<" });
    expect(result).toEqual({
      ok: false,
      details: [
        { field: "days", code: "type", message: "must be a whole number" },
        { field: "reason", code: "min_length", message: "must be at least 3 characters" },
      ],
    });
  });

  test("unknown fields are rejected, one detail each, so typos do not vanish silently", () => {
    const result = validateSubmission(v1, { start_date: "2025-07-01", days: 2, dayz: 3, note: "x" });
    expect(result).toEqual({
      ok: false,
      details: [
        { field: "dayz", code: "unknown_field", message: "is not a field of form leave-request" },
        { field: "note", code: "unknown_field", message: "is not a field of form leave-request" },
      ],
    });
  });

  test("null and empty string count as not filled in: required fails, defaults apply", () => {
    const result = validateSubmission(v1, { start_date: "", days: null, kind: "" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.details.map((d) => [d.field, d.code])).toEqual([["start_date", "required"], ["days", "required"]]);
    expect(validateSubmission(v1, { start_date: "2025-07-01", days: 1, kind: null, reason: "" })).toEqual({
      ok: true, value: { start_date: "2025-07-01", days: 1, kind: "annual" },
    });
  });

  test("nothing is coerced: a numeric string is not a number", () => {
    const result = validateSubmission(v1, { start_date: "2025-07-01", days: "3" });
    expect(result).toEqual({ ok: false, details: [{ field: "days", code: "type", message: "must be a number" }] });
  });

  test("dates: YYYY-MM-DD or an ISO 8601 timestamp with offset, calendar-checked", () => {
    const ok = (d: string) => validateSubmission(v1, { start_date: d, days: 1 }).ok;
    expect(ok("2024-02-29")).toBe(true);
    expect(ok("2025-07-01T09:30:00Z")).toBe(true);
    expect(ok("2025-07-01T09:30+03:00")).toBe(true);
    expect(ok("2025-07-01T09:30:00.123-05:00")).toBe(true);
    expect(ok("2023-02-29")).toBe(false);
    expect(ok("2025-13-01")).toBe(false);
    expect(ok("2025-07-01T24:00:00Z")).toBe(false);
    expect(ok("2025-07-01T09:30:00")).toBe(false);
    expect(ok("01/07/2025")).toBe(false);
    expect(validateSubmission(v1, { start_date: "tomorrow", days: 1 })).toEqual({
      ok: false,
      details: [{ field: "start_date", code: "date", message: "must be a date (YYYY-MM-DD) or an ISO 8601 timestamp with offset" }],
    });
  });

  test("emails must look like addresses", () => {
    const ok = (e: string) => validateSubmission(v1, { start_date: "2025-07-01", days: 1, contact: e }).ok;
    expect(ok("ayse.yilmaz@example.com.tr")).toBe(true);
    expect(ok("a@b")).toBe(false);
    expect(ok("a b@example.com")).toBe(false);
    expect(ok("@example.com")).toBe(false);
  });

  test("data that is not an object is one detail, not a crash", () => {
    expect(validateSubmission(v1, [1, 2])).toEqual({ ok: false, details: [{ field: "", code: "type", message: "must be a JSON object" }] });
  });

  test("the built schema is a plain valibot schema with the same rules, cached per key+version", () => {
    const schema = buildSubmissionSchema(v1);
    expect(buildSubmissionSchema({ ...v1 })).toBe(schema);
    expect(v.parse(schema, { start_date: "2025-07-01", days: 2 })).toEqual({ start_date: "2025-07-01", days: 2, kind: "annual" });
    expect(v.safeParse(schema, { start_date: "2025-07-01", days: 0 }).success).toBe(false);
  });

  test("a different content under the same key+version never reuses the cached schema", () => {
    const other = { ...parseFormDefinition({ key: "leave-request", fields: [{ name: "days", type: "integer", max: 99 }] }), version: 1 };
    buildSubmissionSchema(v1);
    expect(validateSubmission(other, { days: 60 })).toEqual({ ok: true, value: { days: 60 } });
  });
});

describe("versioning", () => {
  const publish = (latest: (FormDefinition & { version: number }) | undefined, input: unknown) =>
    nextVersion(latest, parseFormDefinition(input), isSameDefinition);
  const base = { key: "f", title: "F", fields: [{ name: "a", type: "string", max_length: 5 }] };

  test("the first publish is version 1", () => {
    expect(publish(undefined, base)).toEqual({ created: true, version: 1 });
  });

  test("publishing unchanged content (even with keys in another order) returns the existing version", () => {
    const latest = { ...parseFormDefinition(base), version: 4 };
    const reordered = { fields: [{ max_length: 5, type: "string", name: "a", label: "a" }], title: "F", key: "f" };
    expect(publish(latest, reordered)).toEqual({ created: false, version: 4 });
  });

  test("any change makes version + 1", () => {
    const latest = { ...parseFormDefinition(base), version: 4 };
    expect(publish(latest, { ...base, title: "F2" })).toEqual({ created: true, version: 5 });
    expect(publish(latest, { ...base, fields: [{ name: "a", type: "string", max_length: 6 }] })).toEqual({ created: true, version: 5 });
    expect(publish(latest, { ...base, fields: [{ name: "a", type: "string", max_length: 5, required: true }] })).toEqual({ created: true, version: 5 });
  });
});

describe("Struct codec (what proto-loader hands a gRPC handler)", () => {
  test("JSON survives a round trip, including nesting, lists and null", () => {
    const data = { days: 3, approved: false, note: "ok", tags: ["a", 1, null], nested: { deep: { x: 1.5 } } };
    expect(fromStruct(toStruct(data))).toEqual(data);
  });

  test("reads proto-loader's shape with `kind` markers and enum-string nulls", () => {
    const wire = {
      fields: {
        days: { numberValue: 3, kind: "numberValue" },
        none: { nullValue: "NULL_VALUE", kind: "nullValue" },
        list: { listValue: { values: [{ boolValue: true, kind: "boolValue" }] }, kind: "listValue" },
      },
    };
    expect(fromStruct(wire)).toEqual({ days: 3, none: null, list: [true] });
    expect(fromStruct(null)).toEqual({});
  });

  test("also reads a Struct whose map a loader turned into key/value entries", () => {
    expect(fromStruct({ fields: [{ key: "days", value: { numberValue: 3, kind: "numberValue" } }] })).toEqual({ days: 3 });
  });

  test("a key named __proto__ stays data and does not replace the prototype", () => {
    const out = fromStruct(JSON.parse('{"fields":{"__proto__":{"stringValue":"x","kind":"stringValue"}}}'));
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, "__proto__")).toBe(true);
    expect(out["__proto__"]).toBe("x");
  });
});
