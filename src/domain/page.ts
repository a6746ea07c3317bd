import * as v from "valibot";

const count = v.pipe(v.number(), v.integer(), v.minValue(0));

/** One page of a list answer, the shape every list route returns. */
export const pageOf = <S extends v.GenericSchema>(item: S) =>
  v.object({ items: v.array(item), total: count, limit: count, offset: count });
