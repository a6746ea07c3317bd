import * as v from "valibot";
import { PageTotalSchema } from "./paging/count.ts";

const count = v.pipe(v.number(), v.integer(), v.minValue(0));

/** One page of a list answer, the shape every list route returns. */
export const pageOf = <S extends v.GenericSchema>(item: S) =>
  v.object({ items: v.array(item), total: count, limit: count, offset: count });

/**
 * One page of a list that pages by cursor (tasks, instances): `next_cursor` (null on the last page)
 * is the next request's `cursor`; `total` and `total_relation` as `count=` asks (docs/lists.md).
 */
export const cursorPageOf = <S extends v.GenericSchema>(item: S) =>
  v.object({ items: v.array(item), next_cursor: v.nullable(v.string()), ...PageTotalSchema, limit: count, offset: count });
