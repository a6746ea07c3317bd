import { SQL } from "bun";
import type { Logger } from "../core/logger.ts";

/** At most this many NOTIFYs go out in one statement. */
const BATCH = 500;

/**
 * Sends NOTIFYs after the commits they announce: in call order, batched while one batch is in
 * flight, over one connection with synchronous_commit off. Off is safe because a notice only
 * announces data that is already durable; a lost notice is repaired by the listener's replay.
 */
export class Notifier {
  private readonly queue: { channel: string; payload: string }[] = [];
  private draining: Promise<void> | undefined;
  private conn: SQL | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly name: string,
    private readonly log?: Logger,
  ) {}

  /** Queues one NOTIFY; never throws (a failure is logged; listeners catch up by replay). */
  send(channel: string, payload: string): void {
    if (this.closed) return;
    this.queue.push({ channel, payload });
    this.draining ??= this.drain();
  }

  /** Resolves when everything queued so far has been sent (or has failed). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.conn?.close({ timeout: 5 });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, BATCH);
      this.conn ??= new SQL(this.url, { max: 1, idleTimeout: 60, connection: { application_name: `${this.name}-notify`, synchronous_commit: "off" } });
      try {
        // unnest yields rows in array order, so the notices leave in the order they were sent
        await this.conn`SELECT pg_notify(c, p) FROM unnest(${batch.map((n) => n.channel)}::text[], ${batch.map((n) => n.payload)}::text[]) AS x(c, p)`;
      } catch (err) {
        this.log?.warn("NOTIFY failed; listeners will replay the events", { count: batch.length, err });
      }
    }
    this.draining = undefined;
  }
}
