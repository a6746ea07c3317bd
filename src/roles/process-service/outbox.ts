import { type Clock, type Random, systemClock, systemRandom } from "../../platform/clock.ts";
import type { Logger } from "../../platform/logger.ts";
import type { OutboxRecord, OutboxStats } from "./model.ts";
import { DEFAULT_OUTBOX_BACKOFF, outboxDelayMs, type OutboxBackoff } from "./outbox-backoff.ts";
import type { ProcessStore } from "./store.ts";
import { isPermanentFailure, retryAfterOf } from "./upstream.ts";

/** Carries a record's effect out; resolves with the created task's id for a create. */
export type Deliver = (record: OutboxRecord) => Promise<{ taskRef?: { taskKey: string; taskId: number } }>;

/** Optional observers, so telemetry can count dispatches and wrap each in a span without this module knowing it. */
export interface OutboxHooks {
  dispatched?(outcome: "delivered" | "failed"): void;
  around?<T>(record: OutboxRecord, fn: () => Promise<T>): Promise<T>;
}

export interface OutboxDispatcherOptions {
  store: ProcessStore;
  deliver: Deliver;
  /** Called once a record is given up on (the downstream refused it for good). */
  onDead?: (record: OutboxRecord, err: unknown) => Promise<void>;
  log: Logger;
  /** Instances delivered at once (one record per instance at a time keeps each instance in order). */
  concurrency?: number;
  backoff?: OutboxBackoff;
  /** Safety poll even when nothing is known to be due (another writer, a clock jump). */
  pollMs?: number;
  /** Delivered records are deleted this long after delivery. */
  retentionMs?: number;
  clock?: Clock;
  random?: Random;
  hooks?: OutboxHooks;
}

const PRUNE_EVERY_MS = 10 * 60_000;
const BUSY_RECHECK_MS = 1_000;

/**
 * Delivers outbox records to task-service: oldest first, one record at a time per instance (so a
 * create always lands before its complete), many instances at once, retrying failures with
 * backoff and giving up only on a refusal. Delivery is at-least-once; effects are idempotent.
 */
export class OutboxDispatcher {
  private readonly store: ProcessStore;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly backoff: OutboxBackoff;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly retentionMs: number;
  /** Instances with a delivery in flight, and the promises to await on stop. */
  private readonly inflight = new Map<string, Promise<void>>();
  private filling = false;
  private fillQueued = false;
  private again = false;
  private stopped = true;
  private timer: ReturnType<Clock["setTimeout"]> | undefined;
  private lastPrune = 0;
  private delivered = 0;
  private failed = 0;

  constructor(private readonly opts: OutboxDispatcherOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? systemRandom;
    this.backoff = opts.backoff ?? DEFAULT_OUTBOX_BACKOFF;
    this.concurrency = opts.concurrency ?? 16;
    this.pollMs = opts.pollMs ?? 5_000;
    this.retentionMs = opts.retentionMs ?? 24 * 3_600_000;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.lastPrune = this.clock.now();
    this.notify();
  }

  /** New records were written (or something changed): look for due work soon. */
  notify(): void {
    if (this.stopped) return;
    if (this.filling || this.fillQueued) {
      this.again = true;
      return;
    }
    // every notify of this turn (a burst of finished deliveries, a batch of writes) shares one look
    this.fillQueued = true;
    setImmediate(() => {
      this.fillQueued = false;
      void this.fill();
    });
  }

  /** Stops taking new work and waits for deliveries in flight (each bounded by its own deadline). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inflight.values()]);
  }

  /** Backlog and age, for /health and metrics. */
  async stats(): Promise<OutboxStats & { inflight: number; delivered: number; failedAttempts: number }> {
    const c = await this.store.outboxCounts();
    const oldestAgeMs = c.oldestCreatedAtMs === undefined ? 0 : Math.max(0, Math.round(this.clock.now() - c.oldestCreatedAtMs));
    return { ...c, oldestAgeMs, inflight: this.inflight.size, delivered: this.delivered, failedAttempts: this.failed };
  }

  private async fill(): Promise<void> {
    this.filling = true;
    try {
      do {
        this.again = false;
        const free = this.concurrency - this.inflight.size;
        if (free <= 0 || this.stopped) break;
        const due = await this.store.dueOutbox(this.clock.now(), free, new Set(this.inflight.keys()));
        for (const record of due) this.launch(record);
        if (due.length === free) this.again = true;
      } while (this.again && !this.stopped);
      await this.maybePrune();
    } catch (err) {
      this.opts.log.error("outbox: reading due records failed", { err });
    } finally {
      this.filling = false;
    }
    await this.schedule();
  }

  private launch(record: OutboxRecord): void {
    const run = (this.opts.hooks?.around ? this.opts.hooks.around(record, () => this.deliverOne(record)) : this.deliverOne(record))
      .catch((err) => this.opts.log.error("outbox: recording a delivery failed", { err, seq: record.seq }))
      .finally(() => {
        this.inflight.delete(record.instanceId);
        this.notify();
      });
    this.inflight.set(record.instanceId, run);
  }

  private async deliverOne(record: OutboxRecord): Promise<void> {
    try {
      const { taskRef } = await this.opts.deliver(record);
      await this.store.markDelivered(record.seq, this.clock.now(), taskRef);
      this.delivered++;
      this.opts.hooks?.dispatched?.("delivered");
    } catch (err) {
      this.failed++;
      this.opts.hooks?.dispatched?.("failed");
      if (this.stopped && !isPermanentFailure(err)) return; // shutting down: it stays pending, the next start retries it
      const message = (err as Error)?.message ?? String(err);
      if (isPermanentFailure(err)) {
        this.opts.log.warn("outbox: task-service refused an effect for good", { seq: record.seq, effect: record.effect.idempotencyKey, err: message });
        await this.store.markDead(record.seq, this.clock.now(), message);
        await this.opts.onDead?.(record, err);
        return;
      }
      const attempts = record.attempts + 1;
      const delay = outboxDelayMs(attempts, this.backoff, this.random, retryAfterOf(err));
      if (attempts === 1 || attempts % 10 === 0) this.opts.log.warn("outbox: delivery failed, will retry", { seq: record.seq, effect: record.effect.idempotencyKey, attempts, retry_in_ms: delay, err: message });
      await this.store.markRetry(record.seq, attempts, this.clock.now() + delay, message);
    }
  }

  /** Sleeps until the earliest pending head is due (or the safety poll), unless work is in flight to wake us. */
  private async schedule(): Promise<void> {
    if (this.stopped) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    let wait = this.pollMs;
    if (this.inflight.size > 0) {
      // each finished delivery looks again; this only bounds how late a retry of another instance can be
      wait = Math.min(wait, BUSY_RECHECK_MS);
    } else {
      try {
        const at = await this.store.nextOutboxDueAt();
        if (at !== undefined) wait = Math.min(wait, Math.max(0, at - this.clock.now()));
      } catch (err) {
        this.opts.log.error("outbox: reading the next due time failed", { err });
      }
    }
    if (this.stopped) return;
    const timer = this.clock.setTimeout(() => {
      if (this.timer === timer) this.timer = undefined;
      this.notify();
    }, Math.max(wait, 5));
    timer.unref?.();
    this.timer = timer;
  }

  private async maybePrune(): Promise<void> {
    const now = this.clock.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    const n = await this.store.pruneOutbox(now - this.retentionMs);
    if (n > 0) this.opts.log.debug("outbox: pruned delivered records", { count: n });
  }
}
