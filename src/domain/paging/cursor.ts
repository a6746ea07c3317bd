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

/** The key text of a cursor of `list`, or undefined for anything this list did not make. */
function decodeRaw(list: string, cursor: string): string | undefined {
  if (cursor.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  // re-encoding must give the cursor back: rejects padding, stray bits and invalid UTF-8
  if (!text.startsWith(`${list}:`) || encodeCursor(list, text.slice(list.length + 1)) !== cursor) return undefined;
  return text.slice(list.length + 1);
}

/** The integer key of a cursor made by encodeCursor(list, n) (an int32 id); undefined otherwise. */
export function decodeIntCursor(list: string, cursor: string): number | undefined {
  const raw = decodeRaw(list, cursor);
  if (raw === undefined || !/^(0|[1-9]\d{0,9})$/.test(raw)) return undefined;
  const n = Number(raw);
  return n <= 2_147_483_647 ? n : undefined;
}

/** The text key of a cursor made by encodeCursor(list, s); undefined otherwise. */
export function decodeTextCursor(list: string, cursor: string): string | undefined {
  const raw = decodeRaw(list, cursor);
  return raw === undefined || raw.length === 0 ? undefined : raw;
}
