import type { Logger } from "../platform/logger.ts";
import eventsSql from "./migrations/postgres_events_001.sql" with { type: "text" };
import type { Listener, MigrationSet, PostgresDb } from "./postgres.ts";

/**
 * The shared `bpm_events` table and `bpm_emit(channel, payload)` function. Add it to
 * openPostgres's migrations (before the store's own) in every store that emits events.
 */
export const EVENT_FEED_MIGRATIONS: MigrationSet = { namespace: "bpm-events", migrations: [{ id: "001_events", sql: eventsSql }] };

export interface EventFeedOptions {
  /** NOTIFY channel, also the `channel` column in bpm_events; at most 63 bytes. */
  channel: string;
  /** Every event committed on the channel by any process, once, in commit order (replayed ones in seq order). */
  onEvent: (payload: string) => void;
  /** Events are kept this long for replay after a reconnect. Default 10 min. */
  retentionMs?: number;
  /** How often this process deletes expired events. Default 60 s; 0 disables. */
  pruneEveryMs?: number;
  log?: Logger;
}

/** Recent seqs remembered for de-duplication; far above the writes in flight at any instant. */
const SEEN_CAPACITY = 20_000;
/** A replay re-reads this many seqs below the highest seen: a seq is taken before its commit, so commits can land out of seq order. */
const REPLAY_LOOKBACK = 1_000;
const FETCH_ATTEMPTS = 5;

export interface EventFeedStats {
  channel: string;
  delivered: number;
  replayed: number;
  resyncs: number;
}

/**
 * Delivers the events other processes (and this one) commit through `bpm_emit`:
 * live over LISTEN, replayed from bpm_events after the listener reconnects, each once.
 */
export class PostgresEventFeed {
  private readonly seen = new Set<number>();
  private maxSeq = 0;
  private floor = 0;
  private tail: Promise<void> = Promise.resolve();
  private listener: Listener | undefined;
  private pruneTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private readonly counters = { delivered: 0, replayed: 0, resyncs: 0 };

  private constructor(private readonly db: PostgresDb, private readonly opts: EventFeedOptions) {}

  /** Resolves once the LISTEN is acknowledged: every event committed after that is delivered. */
  static async open(db: PostgresDb, opts: EventFeedOptions): Promise<PostgresEventFeed> {
    if (new TextEncoder().encode(opts.channel).length > 63) throw new Error(`event channel name too long: ${opts.channel}`);
    const feed = new PostgresEventFeed(db, opts);
    feed.listener = await db.listen(
      opts.channel,
      (payload) => feed.enqueue(() => feed.onNotification(payload)),
      () => feed.enqueue(() => feed.replay()),
    );
    // read after LISTEN: anything newer arrives as a notification
    const [row] = await db.sql`SELECT COALESCE(MAX(seq), 0)::bigint AS seq FROM bpm_events WHERE channel = ${opts.channel}`;
    feed.floor = Number(row.seq);
    feed.maxSeq = Math.max(feed.maxSeq, feed.floor);
    const every = opts.pruneEveryMs ?? 60_000;
    if (every > 0) {
      feed.pruneTimer = setInterval(() => void feed.prune(), every);
      feed.pruneTimer.unref?.();
    }
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

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pruneTimer);
    await this.listener?.close().catch(() => {});
    await this.tail;
  }

  /** One at a time, so a payload read back from the table cannot overtake later events. */
  private enqueue(step: () => Promise<void>): void {
    this.tail = this.tail.then(step).catch((err) => this.opts.log?.error("event feed step failed", { channel: this.opts.channel, err }));
  }

  private async onNotification(raw: string): Promise<void> {
    const colon = raw.indexOf(":");
    const seq = Number(colon < 0 ? raw : raw.slice(0, colon));
    if (!Number.isSafeInteger(seq) || this.seen.has(seq)) return;
    const payload = colon < 0 ? await this.fetch(seq) : raw.slice(colon + 1);
    if (payload !== undefined) this.deliver(seq, payload);
  }

  private async fetch(seq: number): Promise<string | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        const [row] = await this.db.sql`SELECT payload FROM bpm_events WHERE seq = ${seq}`;
        return row?.payload as string | undefined;
      } catch (err) {
        if (attempt >= FETCH_ATTEMPTS || this.closed) {
          this.opts.log?.error("could not read a large event back; it is not delivered", { channel: this.opts.channel, seq, err });
          return undefined;
        }
        await Bun.sleep(100 * 2 ** attempt);
      }
    }
  }

  private async replay(): Promise<void> {
    this.counters.resyncs++;
    const from = Math.max(this.floor, this.maxSeq - REPLAY_LOOKBACK);
    let rows: { seq: string; payload: string }[];
    for (let attempt = 1; ; attempt++) {
      try {
        rows = await this.db.sql`SELECT seq, payload FROM bpm_events WHERE channel = ${this.opts.channel} AND seq > ${from} ORDER BY seq`;
        break;
      } catch (err) {
        if (attempt >= FETCH_ATTEMPTS || this.closed) throw err;
        await Bun.sleep(100 * 2 ** attempt);
      }
    }
    for (const row of rows) {
      const seq = Number(row.seq);
      if (this.seen.has(seq)) continue;
      this.counters.replayed++;
      this.deliver(seq, row.payload);
    }
  }

  private deliver(seq: number, payload: string): void {
    if (this.closed) return;
    this.seen.add(seq);
    if (this.seen.size > SEEN_CAPACITY) this.seen.delete(this.seen.values().next().value!);
    if (seq > this.maxSeq) this.maxSeq = seq;
    this.counters.delivered++;
    try {
      this.opts.onEvent(payload);
    } catch (err) {
      this.opts.log?.error("event handler failed", { channel: this.opts.channel, seq, err });
    }
  }
}
