import * as v from "valibot";
import { jsonSchemaOf } from "./json-schema.ts";

export const INT32_MAX = 2_147_483_647;

/** An integer in min..max given as a number (JSON) or a decimal string (query string, path). */
export const intParam = (what: string, min: number, max: number) =>
  v.pipe(
    v.union([v.number(), v.string()], `must be ${what}`),
    // documented as what the checks below let through; a decimal string is the query and path form of it
    jsonSchemaOf({ type: "integer", minimum: min, maximum: max, description: what }),
    v.transform((x) => (typeof x === "string" && /^-?\d+$/.test(x) ? Number(x) : x)),
    v.number(`must be ${what}`),
    v.integer(`must be ${what}`),
    v.minValue(min, `must be ${what}`),
    v.maxValue(max, `must be ${what}`),
  );

/** An integer in min..max in a JSON body (a number, never a string). */
export const intField = (what: string, min: number, max: number) =>
  v.pipe(v.number(`must be ${what}`), v.integer(`must be ${what}`), v.minValue(min, `must be ${what}`), v.maxValue(max, `must be ${what}`));

/** JavaScript's whitespace (what `\s` and `trim()` mean), spelled out so every regex engine reads one set. */
const WS = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff";
/** Has a character that is not whitespace: what stays non-empty after `trim()`. */
export const NOT_BLANK = new RegExp(`[^${WS}]`);
