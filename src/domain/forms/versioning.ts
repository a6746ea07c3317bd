import type { FormDefinition } from "./definition.ts";
import { canonicalJson } from "./json.ts";

/** True when publishing `b` over `a` would change nothing a user sees (version and timestamps aside). */
export function isSameDefinition(a: FormDefinition, b: FormDefinition): boolean {
  return canonicalJson({ key: a.key, title: a.title, fields: a.fields }) === canonicalJson({ key: b.key, title: b.title, fields: b.fields });
}

export type PublishDecision = { created: false; version: number } | { created: true; version: number };

/**
 * The version a publish gets: the latest one again when nothing changed, else latest + 1 (1 for a new key).
 * `same` is the definition kind's own comparison (isSameDefinition, isSameProcessDefinition).
 */
export function nextVersion<T>(
  latest: (T & { version: number }) | undefined,
  incoming: T,
  same: (a: T, b: T) => boolean,
): PublishDecision {
  if (latest === undefined) return { created: true, version: 1 };
  if (same(latest, incoming)) return { created: false, version: latest.version };
  return { created: true, version: latest.version + 1 };
}
