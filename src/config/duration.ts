import * as v from "valibot";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Parses "60s", "500ms", "1.5m", "2h" or a plain number of milliseconds; undefined when malformed. */
export function parseDurationMs(input: unknown): number | undefined {
  if (typeof input === "number") return Number.isFinite(input) && input >= 0 ? input : undefined;
  if (typeof input !== "string") return undefined;
  const trimmed = input.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const m = DURATION_RE.exec(trimmed);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}

/** A config duration: milliseconds as a number, or a string such as "10s"; always read as ms. */
export const durationMs = (what = "a duration") =>
  v.pipe(
    v.union([v.number(), v.string()], `must be ${what} (ms number or e.g. "10s", "500ms")`),
    v.check((x) => parseDurationMs(x) !== undefined, `must be ${what} (ms number or e.g. "10s", "500ms")`),
    v.transform((x) => parseDurationMs(x)!),
  );
