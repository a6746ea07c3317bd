import type { Endpoint } from "./endpoint.ts";

/*
 * Peak EWMA of latency, as Finagle and Linkerd (tower) do it: a sample above the
 * estimate replaces it at once (react to slowness immediately), lower samples
 * blend in with weight 1 - e^(-Δt/τ), and reading decays the estimate towards
 * zero so an idle, once-slow instance is eventually tried again.
 */

/** The estimate as of `nowMs`, without mutating it. */
export function decayedEwmaMs(ep: Endpoint, nowMs: number, decayMs: number): number {
  const elapsed = nowMs - ep.ewmaUpdatedAtMs;
  return elapsed <= 0 ? ep.ewmaMs : ep.ewmaMs * Math.exp(-elapsed / decayMs);
}

export function observeLatency(ep: Endpoint, latencyMs: number, nowMs: number, decayMs: number): void {
  if (latencyMs >= ep.ewmaMs) {
    ep.ewmaMs = latencyMs;
  } else {
    const elapsed = Math.max(0, nowMs - ep.ewmaUpdatedAtMs);
    const keep = Math.exp(-elapsed / decayMs);
    ep.ewmaMs = ep.ewmaMs * keep + latencyMs * (1 - keep);
  }
  ep.ewmaUpdatedAtMs = Math.max(ep.ewmaUpdatedAtMs, nowMs);
}
