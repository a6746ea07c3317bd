import { describe, expect, test } from "bun:test";
import { countLimit, pageTotal, TOTAL_CAP } from "../../../src/domain/paging/count.ts";
import * as v from "valibot";
import { cursorParam, INSTANCE_CURSOR, TASK_CURSOR } from "../../../src/domain/paging/cursor.ts";
import { cutPage } from "../../../src/domain/paging/page.ts";

describe("list cursors", () => {
  test("a cursor gives back its key; a key past every id is a position after every row", () => {
    expect(TASK_CURSOR.decode(TASK_CURSOR.encode(42))).toBe(42);
    expect(TASK_CURSOR.decode(TASK_CURSOR.encode(2_147_483_647))).toBe(2_147_483_647);
    expect(TASK_CURSOR.decode("t9999999999")).toBe(2_147_483_647);
    const id = "0190a5b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b";
    expect(INSTANCE_CURSOR.decode(INSTANCE_CURSOR.encode(id))).toBe(id);
  });

  test.each(["", "t", "42", "i42", "t-1", "t042", "t1e3", "t4.2", "t99999999999", " t1", "t1 ", "T1"])("task cursor %p is refused by the schema and by decode", (cursor) => {
    expect(TASK_CURSOR.decode(cursor)).toBeUndefined();
    expect(v.safeParse(cursorParam(TASK_CURSOR), cursor).success).toBe(false);
  });

  test.each(["", "i", "t42", "i a", "i../x", `i${"a".repeat(101)}`, "iü"])("instance cursor %p is refused by the schema and by decode", (cursor) => {
    expect(INSTANCE_CURSOR.decode(cursor)).toBeUndefined();
    expect(v.safeParse(cursorParam(INSTANCE_CURSOR), cursor).success).toBe(false);
  });

  test("every cursor the schema admits decodes (a schema-valid request never fails on its cursor)", () => {
    for (const c of ["t0", "t7", "t2147483647", "t4294967295"]) expect(TASK_CURSOR.decode(c)).toBeNumber();
    for (const c of ["i0", "i_", "i-", "iabc-DEF_123"]) expect(INSTANCE_CURSOR.decode(c)).toBeString();
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
