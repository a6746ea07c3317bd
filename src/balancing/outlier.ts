/*
 * Envoy-style passive outlier detection arithmetic, kept pure so the bounds are
 * tested on their own.
 */

/**
 * How many of `total` instances may be ejected at once. The bound is checked
 * *after* counting the candidate — floor(total × percent / 100) — unlike the
 * "ejected% < max%" check before ejecting, which with 3 instances and 50% lets
 * a second one go (66%). Like Envoy, at least one may go when there are two or
 * more instances (so 10% of 3 still ejects one); a sole instance is never
 * ejected unless percent is 100, because ejecting it only turns errors into 503s.
 * percent 0 disables ejection.
 */
export function maxEjectable(total: number, percent: number): number {
  if (percent <= 0 || total <= 0) return 0;
  const bound = Math.floor((total * percent) / 100 + 1e-9);
  return total >= 2 ? Math.max(1, bound) : bound;
}

/** base × multiplier, capped at max (but never below base). */
export function ejectionDurationMs(ejections: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * ejections, Math.max(baseMs, maxMs));
}

/** Envoy lowers the multiplier by one for every interval an instance stays in rotation; we use base_ejection_time as that interval. */
export function decayedEjections(ejections: number, inRotationMs: number, baseMs: number): number {
  if (ejections <= 0 || baseMs <= 0) return 0;
  return Math.max(0, ejections - Math.floor(inRotationMs / baseMs));
}
