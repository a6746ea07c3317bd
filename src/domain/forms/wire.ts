import type { StoredFormDefinition } from "./definition.ts";
import { isPlainObject } from "./json.ts";
import { fromValue, toValue, type WireValue } from "./struct.ts";

/**
 * A proto-loader message (keepCase, oneofs: true) as plain JSON: drops the synthetic `_min`-style
 * oneof markers of proto3 `optional` fields and turns google.protobuf.Value `default` into JSON.
 */
export function formInputFromWire(message: Record<string, unknown>): Record<string, unknown> {
  const fields = Array.isArray(message.fields) ? message.fields : [];
  return {
    ...withoutMarkers(message),
    fields: fields.map((f) => {
      if (!isPlainObject(f)) return f;
      const plain = withoutMarkers(f);
      plain.default = fromValue(f.default as WireValue | null | undefined);
      return plain;
    }),
  };
}

/** The formservice.FormDefinition message for a stored definition. */
export function formToWire(form: StoredFormDefinition): Record<string, unknown> {
  return {
    key: form.key,
    version: form.version,
    title: form.title,
    created_at: form.created_at,
    fields: form.fields.map((f) => ({
      ...f,
      pattern: f.pattern ?? "",
      options: f.options ?? [],
      default: f.default === undefined ? null : toValue(f.default),
    })),
  };
}

function withoutMarkers(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(obj)) if (!k.startsWith("_")) out[k] = val;
  return out;
}
