import type { Logger } from "../core/logger.ts";
import eventsSql from "./migrations/postgres_events_001.sql" with { type: "text" };
import type { Listener, MigrationSet, PostgresDb } from "./postgres.ts";

/**
 * The shared `bpm_events` table and `bpm_emit(channel, payload) → notice`. Add it to openPostgres's
 * migrations (before the store's own) in every store that emits events. A write then reads:
 *   `WITH w AS (UPDATE … RETURNING …) SELECT w.*, bpm_emit('chan', <json>) AS notice FROM w`
 * and, once that statement has committed, `db.notify('chan', row.notice)`.
 */
export const EVENT_FEED_MIGRATIONS: MigrationSet = { namespace: "bpm-events", migrations: [{ id: "001_events", sql: eventsSql }] };

export interface EventFeedOptions {
  /** NOTIFY channel, also the `channel` column in bpm_events; at most 63 bytes. */
  channel: string;
  /** Every event committed on the channel by any process, once. `seq` grows with each event. */
  onEvent: (payload: string, seq: number) => void;
  /** Events are kept this long for replay. Default 10 min. */
  retentionMs?: number;
  /** How often this process deletes expired events. Default 60 s; 0 disables. */
  pruneEveryMs?: number;
  /** How often the table is checked for events whose notice never came (a writer died after commit). Default 1 s; 0 disables. */
  sweepEveryMs?: number;
  /** The sweep leaves events younger than this to their notices. Default 2 s. */
  sweepGraceMs?: number;
  log?: Logger;
}

/** Recent seqs remembered for de-duplication: the events of several sweep windows at thousands per second. */
const SEEN_CAPACITY = 50_000;
const ATTEMPTS = 5;

export interface EventFeedStats {
  channel: string;
  /** Handed to onEvent. */
  delivered: number;
  /** Of those, read from the table rather than from a notice (replay after reconnect, or sweep). */
  recovered: number;
  /** Reconnects of the listener. */
  resyncs: number;
}

/**
 * Delivers the events any process commits through `bpm_emit`: live from notices over LISTEN,
 * and from the table after the listener reconnects or when a notice never came. Each event once.
 */
export class PostgresEventFeed {
  private readonly seen = new Set<number>();
  /** Every event at or below this seq has been delivered or looked at by a sweep. */
  private cursor = 0;
  private tail: Promise<void> = Promise.resolve();
  private listener: Listener | undefined;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private closed = false;
  private sweepFailing = false;
  private sweepQueued = false;
  private readonly counters = { delivered: 0, recovered: 0, resyncs: 0 };

  private constructor(private readonly db: PostgresDb, private readonly opts: EventFeedOptions) {}

  /** Resolves once the LISTEN is acknowledged: every event committed after that is delivered. */
  static async open(db: PostgresDb, opts: EventFeedOptions): Promise<PostgresEventFeed> {
    if (new TextEncoder().encode(opts.channel).length > 63) throw new Error(`event channel name too long: ${opts.channel}`);
    const feed = new PostgresEventFeed(db, opts);
    feed.listener = await db.listen(
      opts.channel,
      (notice) => feed.enqueue(() => feed.onNotice(notice)),
      () => {
        feed.counters.resyncs++;
        feed.enqueue(() => feed.catchUp(0, ATTEMPTS));
      },
    );
    // read after LISTEN: anything newer arrives as a notice
    const [row] = await db.sql`SELECT COALESCE(MAX(seq), 0)::bigint AS seq FROM bpm_events WHERE channel = ${opts.channel}`;
    feed.cursor = Number(row.seq);
    feed.every(opts.sweepEveryMs ?? 1_000, () => feed.queueSweep());
    feed.every(opts.pruneEveryMs ?? 60_000, () => void feed.prune());
    return feed;
  }

  get stats(): EventFeedStats {
    return { channel: this.opts.channel, ...this.counters };
  }

  /** Deletes events past retention; returns how many. Runs on a timer, callable for tests. */
  async prune(): Promise<number> {
    const secs = (this.opts.retentionMs ?? 600_000) / 1000;
    try {
      const res = await this.db.sql`DELETE FROM bpm_events WHERE channel = ${this.opts.channel} AND created_at < now() - make_interval(secs => ${secs})`;
      return res.count;
    } catch (err) {
      this.opts.log?.warn("pruning old events failed", { channel: this.opts.channel, err });
      return 0;
    }
  }

  /** Runs one sweep now (after whatever is queued); for tests. */
  sweepNow(): Promise<void> {
    this.queueSweep();
    return this.tail;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.listener?.close().catch(() => {});
    await this.tail;
  }

  private every(ms: number, fn: () => void): void {
    if (ms <= 0) return;
    const t = setInterval(fn, ms);
    t.unref?.();
    this.timers.push(t);
  }

  /** One step at a time, so a payload read back from the table cannot overtake later notices. */
  private enqueue(step: () => Promise<void>): void {
    this.tail = this.tail.then(step).catch((err) => this.opts.log?.error("event feed step failed", { channel: this.opts.channel, err }));
  }

  private async onNotice(notice: string): Promise<void> {
    const colon = notice.indexOf(":");
    const seq = Number(colon < 0 ? notice : notice.slice(0, colon));
    if (!Number.isSafeInteger(seq) || this.seen.has(seq)) return;
    if (colon >= 0) return this.deliver(seq, notice.slice(colon + 1), false);
    const [row] = await this.retry(ATTEMPTS, () => this.db.sql`SELECT payload FROM bpm_events WHERE seq = ${seq}`);
    if (row) this.deliver(seq, row.payload as string, true);
  }

  /** At most one sweep waits in the queue, however long the database is away. */
  private queueSweep(): void {
    if (this.sweepQueued) return;
    this.sweepQueued = true;
    this.enqueue(() => {
      this.sweepQueued = false;
      return this.sweep();
    });
  }

  private async sweep(): Promise<void> {
    try {
      await this.catchUp(this.opts.sweepGraceMs ?? 2_000, 1);
      this.sweepFailing = false;
    } catch (err) {
      // once per outage, not once a second
      if (!this.sweepFailing) this.opts.log?.warn("event sweep failed; retrying", { channel: this.opts.channel, err });
      this.sweepFailing = true;
    }
  }

  /**
   * Delivers events in the table that were not delivered yet, in seq order. With a grace period it
   * only looks at events old enough that their notice should have come, and moves the cursor past them;
   * without (after a reconnect) it takes everything now and leaves the cursor to the sweep.
   */
  private async catchUp(graceMs: number, attempts: number): Promise<void> {
    const ch = this.opts.channel;
    const rows: { seq: string }[] = await this.retry(attempts, () =>
      graceMs > 0
        ? this.db.sql`SELECT seq FROM bpm_events WHERE channel = ${ch} AND seq > ${this.cursor} AND created_at < now() - make_interval(secs => ${graceMs / 1000}) ORDER BY seq`
        : this.db.sql`SELECT seq FROM bpm_events WHERE channel = ${ch} AND seq > ${this.cursor} ORDER BY seq`,
    );
    const missing = rows.map((r) => Number(r.seq)).filter((s) => !this.seen.has(s));
    if (missing.length > 0) {
      const found: { seq: string; payload: string }[] = await this.retry(attempts, () => this.db.sql`SELECT seq, payload FROM bpm_events WHERE seq = ANY(${missing}::bigint[]) ORDER BY seq`);
      for (const r of found) this.deliver(Number(r.seq), r.payload, true);
    }
    if (graceMs > 0 && rows.length > 0) this.cursor = Math.max(this.cursor, Number(rows[rows.length - 1]!.seq));
  }

  private async retry<T>(attempts: number, query: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await query();
      } catch (err) {
        if (attempt >= attempts || this.closed) throw err;
        await Bun.sleep(50 * 2 ** attempt);
      }
    }
  }

  private deliver(seq: number, payload: string, recovered: boolean): void {
    if (this.closed || this.seen.has(seq)) return;
    this.seen.add(seq);
    if (this.seen.size > SEEN_CAPACITY) this.seen.delete(this.seen.values().next().value!);
    this.counters.delivered++;
    if (recovered) this.counters.recovered++;
    try {
      this.opts.onEvent(payload, seq);
    } catch (err) {
      this.opts.log?.error("event handler failed", { channel: this.opts.channel, seq, err });
    }
  }
}
