import { type Clock, systemClock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { ConsulCallError } from "./consul-client.ts";

/**
 * Logs Consul trouble once per outage, not once per failed call: the first failure after a
 * success warns, later ones are debug, the first success after failures says how long it lasted.
 * Shared by discovery and registration so a role started with Consul down warns once.
 */
export class ConsulOutage {
  private since: number | undefined;
  private readonly clock: Clock;
  private readonly recovered = new Set<() => void>();

  constructor(private readonly log: Logger, private readonly address: string, clock?: Clock) {
    this.clock = clock ?? systemClock;
  }

  /** Calls `listener` each time Consul answers again after an outage (e.g. to re-check registrations at once). */
  onRecovered(listener: () => void): () => void {
    this.recovered.add(listener);
    return () => this.recovered.delete(listener);
  }

  failed(what: string, error: unknown, consequence: string): void {
    const message = describe(error);
    if (this.since !== undefined) {
      this.log.debug("consul call failed", { what, error: message });
      return;
    }
    this.since = this.clock.now();
    this.log.warn(`consul at ${this.address} is not answering (${message}); ${consequence}; retrying with backoff`, { what, consul: this.address });
  }

  succeeded(what: string): void {
    if (this.since === undefined) return;
    const seconds = Math.round((this.clock.now() - this.since) / 100) / 10;
    this.since = undefined;
    this.log.info(`consul at ${this.address} answers again after ${seconds} s`, { what, consul: this.address });
    for (const listener of this.recovered) listener();
  }
}

export function describe(error: unknown): string {
  if (error instanceof ConsulCallError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
