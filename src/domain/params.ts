import * as v from "valibot";

export const INT32_MAX = 2_147_483_647;

/** An integer in min..max given as a number (JSON) or a decimal string (query string, path). */
export const intParam = (what: string, min: number, max: number) =>
  v.pipe(
    v.union([v.number(), v.string()], `must be ${what}`),
    v.transform((x) => (typeof x === "string" && /^-?\d+$/.test(x) ? Number(x) : x)),
    v.number(`must be ${what}`),
    v.integer(`must be ${what}`),
    v.minValue(min, `must be ${what}`),
    v.maxValue(max, `must be ${what}`),
  );
