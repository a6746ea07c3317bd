import { type Clock, systemClock } from "../core/clock.ts";
import { Emitter } from "./emitter.ts";
import type { RateLimitDecision } from "./rate-algorithms/index.ts";

/** Requests one replica admitted for a key in its window since the last sync. */
export interface WindowDelta { key: string; start: number; delta: number }
/** A key's window as the shared store holds it after a sync. */
export interface WindowTotal { key: string; start: number; count: number }

/** Where replicas add up their counts (PostgreSQL: storage/postgres-rate-limits.ts). */
export interface WindowCounterStore {
  /**
   * Adds each delta to its key's stored window, or starts the key's window at `start` when the
   * stored one has ended by then. Returns those keys' windows afterwards, every other key of
   * `name` written (by any replica) since the point `cursor` marks, and the cursor for the
   * next call ("" the first time).
   */
  sync(name: string, windowMs: number, entries: readonly WindowDelta[], cursor: string): Promise<{ totals: WindowTotal[]; cursor: string }>;
}

export interface ClusterWindowOptions {
  name: string;
  limit: number;
  windowMs: number;
  store: WindowCounterStore;
  /** Keys tracked at most; the longest-tracked goes first. */
  maxKeys?: number;
  clock?: Clock;
}

export interface ClusterWindowMetrics {
  trackedKeys: number;
  allowed: number;
  rejected: number;
  /** Completed syncs with the store, and failed ones (counting goes on locally meanwhile). */
  syncs: number;
  syncFailures: number;
}

interface KeyCount {
  /** Window start, epoch ms (shared by every replica once synced). */
  start: number;
  /** The window's count across replicas at the last sync (this replica's synced requests included). */
  synced: number;
  /** Admitted here since the last sync was taken. */
  pending: number;
}

/** Keys examined per sync for windows that have ended. */
const SWEEP_PER_SYNC = 1_000;

/**
 * The seed's fixed window (from the key's first request) counted across gateway replicas, as
 * Kong's "cluster" strategy does: each replica decides locally from the last synced total plus
 * what it admitted since, and `sync()` adds its counts to the shared store in one batch and
 * reads back the totals of its keys that anyone changed. Between two syncs a replica may admit
 * what it believes is left, so a key can overshoot its limit by what the other replicas
 * admitted for it since this one's last sync (docs/resilience.md, "Gateway rate limit").
 */
export class ClusterFixedWindow {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly onRejected = new Emitter<{ name: string; key: string; retryAfterMs: number }>();
  private readonly store: WindowCounterStore;
  private readonly maxKeys: number;
  private readonly clock: Clock;
  private readonly counts = new Map<string, KeyCount>();
  private dirty = new Set<string>();
  private allowed = 0;
  private rejected = 0;
  private syncs = 0;
  private syncFailures = 0;
  /** Where in the store's writes this replica has read up to. */
  private cursor = "";

  constructor(options: ClusterWindowOptions) {
    this.name = options.name;
    this.limit = options.limit;
    this.windowMs = Math.max(1, Math.round(options.windowMs));
    this.store = options.store;
    this.maxKeys = options.maxKeys ?? 1_000_000;
    this.clock = options.clock ?? systemClock;
  }

  check(key: string): RateLimitDecision {
    const now = Math.floor(this.clock.now());
    let c = this.counts.get(key);
    if (c === undefined) {
      if (this.counts.size >= this.maxKeys) this.counts.delete(this.counts.keys().next().value!);
      c = { start: now, synced: 0, pending: 0 };
      this.counts.set(key, c);
    } else if (now >= c.start + this.windowMs) {
      c.start = now;
      c.synced = 0;
      c.pending = 0;
    }
    const left = c.start + this.windowMs - now;
    const used = c.synced + c.pending;
    if (used >= this.limit) {
      this.rejected++;
      if (this.onRejected.hasListeners) this.onRejected.emit({ name: this.name, key, retryAfterMs: left });
      return { allowed: false, limit: this.limit, remaining: 0, resetMs: left, retryAfterMs: left, windowMs: this.windowMs };
    }
    c.pending++;
    this.dirty.add(key);
    this.allowed++;
    return { allowed: true, limit: this.limit, remaining: this.limit - used - 1, resetMs: left, retryAfterMs: 0, windowMs: this.windowMs };
  }

  /**
   * Sends what this replica admitted since the last sync and adopts the store's totals for
   * those keys and for every tracked key another replica counted since. On a store error the
   * counts are kept for the next try and limiting goes on locally.
   */
  async sync(): Promise<void> {
    const keys = this.dirty;
    this.dirty = new Set();
    const entries: WindowDelta[] = [];
    for (const key of keys) {
      const c = this.counts.get(key);
      if (c === undefined || c.pending === 0) continue;
      entries.push({ key, start: c.start, delta: c.pending });
      c.synced += c.pending;
      c.pending = 0;
    }
    this.sweep();
    if (entries.length === 0 && this.counts.size === 0) {
      this.syncs++;
      return;
    }
    let totals: WindowTotal[];
    try {
      const result = await this.store.sync(this.name, this.windowMs, entries, this.cursor);
      totals = result.totals;
      this.cursor = result.cursor;
    } catch (err) {
      this.syncFailures++;
      for (const e of entries) {
        const c = this.counts.get(e.key);
        if (c === undefined || c.start !== e.start) continue;
        c.synced -= e.delta;
        c.pending += e.delta;
        this.dirty.add(e.key);
      }
      throw err;
    }
    const now = Math.floor(this.clock.now());
    for (const t of totals) {
      const c = this.counts.get(t.key);
      // a window that has ended teaches nothing; an open one is the key's, whoever started it
      if (c === undefined || t.start + this.windowMs <= now) continue;
      c.start = t.start;
      c.synced = t.count;
    }
    this.syncs++;
  }

  metrics(): ClusterWindowMetrics {
    return { trackedKeys: this.counts.size, allowed: this.allowed, rejected: this.rejected, syncs: this.syncs, syncFailures: this.syncFailures };
  }

  /** Drops keys whose window has ended and that have nothing left to send, oldest first. */
  private sweep(): void {
    const now = Math.floor(this.clock.now());
    let examined = 0;
    for (const [key, c] of this.counts) {
      if (examined++ >= SWEEP_PER_SYNC) break;
      if (c.start + this.windowMs <= now && c.pending === 0 && !this.dirty.has(key)) this.counts.delete(key);
    }
  }
}
