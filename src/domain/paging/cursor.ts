import * as v from "valibot";

/**
 * Keyset cursors: a list's position as "after this key", written `<list letter><key>` — `t1234`
 * after task 1234, `i0190…` after that instance. Clients pass back what `next_cursor` gave them and
 * build nothing themselves. The key is the last row's unique, immutable sort key, so the page that
 * follows is exact whatever was inserted or deleted meanwhile. Every string the pattern admits is a
 * position (the OpenAPI document says which strings are cursors), so a schema-valid cursor never fails.
 */
export interface CursorKind<K extends string | number> {
  /** The values the query schema admits (also the OpenAPI `pattern`). */
  readonly pattern: RegExp;
  encode(key: K): string;
  /** undefined for a string outside the pattern (the gRPC edge checks with it). */
  decode(cursor: string): K | undefined;
}

const INT32_MAX = 2_147_483_647;

/** Task ids (int32): a key past the largest id is a position after every row. */
export const TASK_CURSOR: CursorKind<number> = {
  pattern: /^t(?:0|[1-9]\d{0,9})$/,
  encode: (id) => `t${id}`,
  decode(cursor) {
    if (!this.pattern.test(cursor)) return undefined;
    return Math.min(Number(cursor.slice(1)), INT32_MAX);
  },
};

/** Instance ids (UUIDv7 text, compared bytewise). */
export const INSTANCE_CURSOR: CursorKind<string> = {
  pattern: /^i[\w-]{1,100}$/,
  encode: (id) => `i${id}`,
  decode(cursor) {
    return this.pattern.test(cursor) ? cursor.slice(1) : undefined;
  },
};

/** The query field `cursor` of a list with cursors of `kind`. */
export const cursorParam = (kind: { pattern: RegExp }) =>
  v.pipe(v.string("must be the next_cursor of a previous page"), v.regex(kind.pattern, "must be the next_cursor of a previous page"));
