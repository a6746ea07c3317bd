import type { JsonObject, JsonValue } from "./json.ts";

/**
 * google.protobuf.Struct / Value as @grpc/proto-loader hands them over
 * (`{ fields: { k: { numberValue: 1, kind: "numberValue" } } }`), and back.
 * protobufjs silently turns a plain JSON object given for a Struct into `{}`,
 * so every Struct field must go through toStruct on the way out.
 */
export interface WireValue {
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: WireStruct | null;
  listValue?: { values?: WireValue[] | null } | null;
  kind?: string;
}
export interface WireStruct {
  /** A map; as `[{ key, value }]` entries when a loader lost the map (protobufjs Root.fromDescriptor does). */
  fields?: Record<string, WireValue> | { key: string; value: WireValue }[] | null;
}

export function toValue(value: JsonValue): WireValue {
  if (value === null) return { nullValue: "NULL_VALUE" };
  switch (typeof value) {
    case "number": return { numberValue: value };
    case "string": return { stringValue: value };
    case "boolean": return { boolValue: value };
  }
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  return { structValue: toStruct(value) };
}

export function toStruct(object: JsonObject): WireStruct {
  const fields: Record<string, WireValue> = {};
  for (const [k, val] of Object.entries(object)) fields[k] = toValue(val);
  return { fields };
}

/** A Value message to JSON; an unset Value (null/undefined message) reads as null. */
export function fromValue(value: WireValue | null | undefined): JsonValue {
  if (value === null || value === undefined) return null;
  const kind = value.kind ?? Object.keys(value).find((k) => k.endsWith("Value") && (value as Record<string, unknown>)[k] !== undefined);
  switch (kind) {
    case "numberValue": return value.numberValue ?? 0;
    case "stringValue": return value.stringValue ?? "";
    case "boolValue": return value.boolValue ?? false;
    case "structValue": return fromStruct(value.structValue);
    case "listValue": return (value.listValue?.values ?? []).map(fromValue);
    default: return null;
  }
}

/** A Struct message to a JSON object; an unset Struct reads as `{}`. */
export function fromStruct(struct: WireStruct | null | undefined): JsonObject {
  const out: JsonObject = {};
  const fields = struct?.fields ?? {};
  const entries = Array.isArray(fields) ? fields.map((e): [string, WireValue] => [e.key, e.value]) : Object.entries(fields);
  for (const [k, val] of entries) {
    // defineProperty, so a key named __proto__ stays data instead of replacing the prototype
    Object.defineProperty(out, k, { value: fromValue(val), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
