/**
 * Blocking-query index rules from Consul's docs (api-docs/features/blocking, "Implementation details"):
 * an index that goes backwards means the query restarts from the answer just received, and an index
 * of 0 (a Consul bug) is raised to 1 so the next call really blocks instead of spinning.
 */
export interface IndexStep {
  /** Index to send with the next blocking query; always ≥ 1. */
  readonly next: bigint;
  /** The answer's index went backwards (snapshot restore, server change): treat the answer as new. */
  readonly reset: boolean;
}

/** Parses an X-Consul-Index header; undefined when missing or not a non-negative integer. */
export function parseConsulIndex(header: string | string[] | undefined | null): bigint | undefined {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw === undefined || raw === null || !/^\d{1,20}$/.test(raw.trim())) return undefined;
  return BigInt(raw.trim());
}

/** The index for the next query, given the one we sent (undefined on the first call) and the one returned. */
export function nextWaitIndex(sent: bigint | undefined, returned: bigint): IndexStep {
  const reset = sent !== undefined && returned < sent;
  // Adopting the lower index is the docs' "reset": the data in hand is current, and we block from it.
  return { next: returned < 1n ? 1n : returned, reset };
}
