import { describe, expect, test } from "bun:test";
import { countLimit, pageTotal, TOTAL_CAP } from "../../../src/domain/paging/count.ts";
import { decodeIntCursor, decodeTextCursor, encodeCursor, MAX_CURSOR_CHARS } from "../../../src/domain/paging/cursor.ts";
import { cutPage } from "../../../src/domain/paging/page.ts";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64url");

describe("list cursors", () => {
  test("a cursor gives back its list's key, and nothing else's", () => {
    expect(decodeIntCursor("tasks", encodeCursor("tasks", 42))).toBe(42);
    expect(decodeIntCursor("tasks", encodeCursor("tasks", 2_147_483_647))).toBe(2_147_483_647);
    const id = "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b";
    expect(decodeTextCursor("instances", encodeCursor("instances", id))).toBe(id);
    expect(decodeIntCursor("tasks", encodeCursor("instances", 42))).toBeUndefined();
    expect(decodeTextCursor("instances", encodeCursor("tasks", 42))).toBeUndefined();
  });

  test.each([
    ["padding", "dGFza3M6NDI="],
    ["not base64url", "tasks:42"],
    ["empty key", b64("tasks:")],
    ["negative", b64("tasks:-1")],
    ["leading zero", b64("tasks:042")],
    ["exponent", b64("tasks:1e3")],
    ["fraction", b64("tasks:4.2")],
    ["over int32", b64("tasks:2147483648")],
    ["eleven digits", b64("tasks:99999999999")],
    ["no list", b64("42")],
    ["stray bits in the last character", "dGFza3M6NDJ"],
    ["too long", "A".repeat(MAX_CURSOR_CHARS + 1)],
  ])("an int cursor with %s is refused", (_what, cursor) => {
    expect(decodeIntCursor("tasks", cursor)).toBeUndefined();
  });

  test("a text cursor with bytes that are not UTF-8 is refused", () => {
    const raw = Buffer.concat([Buffer.from("instances:"), Buffer.from([0xff, 0xfe])]).toString("base64url");
    expect(decodeTextCursor("instances", raw)).toBeUndefined();
  });
});

describe("pages and totals", () => {
  test("limit + 1 rows make a page with the cursor of its last row; limit rows or fewer are the last page", () => {
    expect(cutPage([1, 2, 3, 4], 3, (n) => `after ${n}`)).toEqual({ items: [1, 2, 3], next_cursor: "after 3" });
    expect(cutPage([1, 2, 3], 3, (n) => `after ${n}`)).toEqual({ items: [1, 2, 3], next_cursor: null });
    expect(cutPage([], 3, (n) => `after ${n}`)).toEqual({ items: [], next_cursor: null });
  });

  test("capped totals are exact up to the cap and say gte beyond it; exact is exact; none is absent", () => {
    expect(countLimit("capped")).toBe(TOTAL_CAP + 1);
    expect(countLimit("exact")).toBeUndefined();
    expect(countLimit("none")).toBe(0);
    expect(pageTotal("capped", 7)).toEqual({ total: 7, total_relation: "eq" });
    expect(pageTotal("capped", TOTAL_CAP)).toEqual({ total: TOTAL_CAP, total_relation: "eq" });
    expect(pageTotal("capped", TOTAL_CAP + 1)).toEqual({ total: TOTAL_CAP, total_relation: "gte" });
    expect(pageTotal("exact", 123_456)).toEqual({ total: 123_456, total_relation: "eq" });
    expect(pageTotal("none", undefined)).toEqual({});
  });
});
