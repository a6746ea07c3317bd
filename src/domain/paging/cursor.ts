import { ValidationError } from "../../platform/errors.ts";

/**
 * Opaque keyset cursors: a list's position as "after this key", base64url of `<list>:<key>`.
 * The key is the last row's unique, immutable sort key, so a page that follows it is exact no
 * matter what was inserted or deleted in between. The list name stops a cursor of one list from
 * being read by another; the filters are not in it (the next request repeats them).
 */
export const MAX_CURSOR_CHARS = 512;

export function encodeCursor(list: string, key: string | number): string {
  return Buffer.from(`${list}:${key}`, "utf8").toString("base64url");
}

function decodeRaw(list: string, cursor: string, field: string): string {
  const bad = () => new ValidationError(`invalid ${field}: not a cursor of this list`, [{ field, message: "not a cursor of this list" }]);
  if (cursor.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  if (!text.startsWith(`${list}:`) || encodeCursor(list, text.slice(list.length + 1)) !== cursor) throw bad();
  return text.slice(list.length + 1);
}

/** The integer key of a cursor made by encodeCursor(list, n); a 400 naming `field` for anything else. */
export function decodeIntCursor(list: string, cursor: string, field = "cursor"): number {
  const raw = decodeRaw(list, cursor, field);
  const n = /^(0|[1-9]\d{0,9})$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n > 2_147_483_647) throw new ValidationError(`invalid ${field}: not a cursor of this list`, [{ field, message: "not a cursor of this list" }]);
  return n;
}

/** The text key of a cursor made by encodeCursor(list, s). */
export function decodeTextCursor(list: string, cursor: string, field = "cursor"): string {
  const raw = decodeRaw(list, cursor, field);
  if (raw.length === 0) throw new ValidationError(`invalid ${field}: not a cursor of this list`, [{ field, message: "not a cursor of this list" }]);
  return raw;
}
