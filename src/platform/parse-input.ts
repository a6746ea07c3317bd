import * as v from "valibot";
import { ValidationError } from "../core/errors.ts";

/** An object schema's issue for a required key that is absent (valibot says `Expected "key"`). */
const isMissingKey = (i: v.BaseIssue<unknown>) => i.kind === "schema" && i.received === "undefined" && i.expected?.startsWith('"') === true;

/** Validates `input` with a valibot schema; failures become a 400 naming every bad field. */
export function parseInput<S extends v.GenericSchema>(schema: S, input: unknown, what = "request body"): v.InferOutput<S> {
  const r = v.safeParse(schema, input);
  if (r.success) return r.output;
  const details = r.issues.map((i) => ({ field: v.getDotPath(i) ?? "(body)", message: isMissingKey(i) ? "is required" : i.message }));
  const first = details[0]!;
  throw new ValidationError(`invalid ${what}: ${first.field} ${first.message}`, details);
}
