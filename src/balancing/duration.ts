import * as v from "valibot";

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** Parses "500ms", "10s", "1.5m", "2h" (or a bare number of ms) into milliseconds; undefined when malformed. */
export function parseDurationMs(input: string | number): number | undefined {
  if (typeof input === "number") return Number.isFinite(input) && input >= 0 ? input : undefined;
  const m = DURATION_RE.exec(input.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** Valibot schema: a non-negative ms number or a duration string, output in milliseconds. */
export const durationMs = v.pipe(
  v.union([v.number(), v.string()], 'expected a duration like "10s", "500ms" or a number of milliseconds'),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const ms = parseDurationMs(dataset.value);
    if (ms === undefined) {
      addIssue({ message: `expected a duration like "10s", "500ms" or a number of milliseconds, got ${JSON.stringify(dataset.value)}` });
      return NEVER;
    }
    return ms;
  }),
);
