import * as v from "valibot";

/**
 * How a list answers `total` (`count=` on REST):
 * - `capped` (default): matching rows counted up to TOTAL_CAP; `total_relation` "eq" when that is
 *   the exact count, "gte" when there are more (Elasticsearch's track_total_hits shape). Costs at most
 *   TOTAL_CAP + 1 index entries per page, whatever the list's size.
 * - `exact`: COUNT(*) over every match — O(matches), for callers that need the number.
 * - `none`: no `total` at all; the cheapest page.
 */
export const COUNT_MODES = ["capped", "exact", "none"] as const;
export type CountMode = (typeof COUNT_MODES)[number];
export const TOTAL_CAP = 1000;

export const CountModeSchema = v.optional(v.picklist(COUNT_MODES, `must be one of ${COUNT_MODES.join(", ")}`), "capped");

/** The page's counting fields, as they go on the wire. */
export interface PageTotal {
  total?: number;
  total_relation?: "eq" | "gte";
}

/** `counted` is min(matches, TOTAL_CAP + 1) for capped, the exact count for exact. */
export function pageTotal(mode: CountMode, counted: number | undefined): PageTotal {
  if (mode === "none" || counted === undefined) return {};
  if (mode === "capped" && counted > TOTAL_CAP) return { total: TOTAL_CAP, total_relation: "gte" };
  return { total: counted, total_relation: "eq" };
}

/** The store's count limit for a mode: undefined = exact, 0 = do not count. */
export function countLimit(mode: CountMode): number | undefined {
  return mode === "none" ? 0 : mode === "capped" ? TOTAL_CAP + 1 : undefined;
}

export const PageTotalSchema = {
  total: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  total_relation: v.optional(v.picklist(["eq", "gte"])),
};
