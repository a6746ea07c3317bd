import * as v from "valibot";
import { jsonSchemaOf } from "../json-schema.ts";

/** A value that survives JSON (and google.protobuf.Value) unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export type JsonObject = { [key: string]: JsonValue };

const MAX_DEPTH = 32;

function isJson(value: unknown, depth: number): boolean {
  if (value === null || typeof value === "boolean" || typeof value === "string") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) return value.every((item) => isJson(item, depth + 1));
  if (isPlainObject(value)) return Object.values(value).every((item) => isJson(item, depth + 1));
  return false;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export const JsonValueSchema = v.custom<JsonValue>((input) => isJson(input, 0), "must be a JSON value");
export const JsonObjectSchema = v.pipe(
  v.custom<JsonObject>((input) => isPlainObject(input) && isJson(input, 0), "must be a JSON object"),
  jsonSchemaOf({ type: "object", additionalProperties: true, description: `a JSON object (at most ${MAX_DEPTH} levels deep)` }),
);

/** JSON with object keys sorted, so equal content gives equal text whatever the key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, val: unknown) => {
    if (!isPlainObject(val)) return val;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(val).sort()) if (val[k] !== undefined) sorted[k] = val[k];
    return sorted;
  });
}

/** Reads a dotted path through own properties only, so `__proto__` or `constructor` never reach a prototype. */
export function readPath(root: unknown, path: readonly string[]): JsonValue | undefined {
  let current: unknown = root;
  for (const part of path) {
    if (!isPlainObject(current) || !Object.hasOwn(current, part)) return undefined;
    current = current[part];
  }
  return current as JsonValue;
}
