import type { Clock } from "../platform/clock.ts";
import type { VersionSplit } from "./version-split.ts";

export interface RollbackPolicy {
  /** The version traffic goes back to. */
  stable: string;
  /** How far (percentage points) another version's error rate may exceed the stable one's. */
  marginPercent: number;
  windowMs: number;
  /** Requests a version needs in the window before its rate is judged. */
  minRequests: number;
}

/** What a rollback did, for the log, /metrics and GET /admin/routes. */
export interface Rollback {
  at: string;
  from: string;
  to: string;
  errorRate: number;
  stableErrorRate: number;
  requests: number;
}

const BUCKETS = 10;

/** Requests and failures of one version over the last window, in ten buckets. */
class WindowCounts {
  private readonly total = new Array<number>(BUCKETS).fill(0);
  private readonly failed = new Array<number>(BUCKETS).fill(0);
  private bucket = 0;
  private bucketStart = Number.NaN;

  constructor(private readonly bucketMs: number) {}

  add(failed: boolean, now: number): void {
    this.advance(now);
    this.total[this.bucket]!++;
    if (failed) this.failed[this.bucket]!++;
  }

  sums(now: number): { total: number; failed: number } {
    this.advance(now);
    let total = 0;
    let failed = 0;
    for (let i = 0; i < BUCKETS; i++) {
      total += this.total[i]!;
      failed += this.failed[i]!;
    }
    return { total, failed };
  }

  private advance(now: number): void {
    if (Number.isNaN(this.bucketStart)) this.bucketStart = now;
    let steps = Math.floor((now - this.bucketStart) / this.bucketMs);
    if (steps <= 0) return;
    this.bucketStart += steps * this.bucketMs;
    if (steps > BUCKETS) steps = BUCKETS;
    for (let i = 0; i < steps; i++) {
      this.bucket = (this.bucket + 1) % BUCKETS;
      this.total[this.bucket] = 0;
      this.failed[this.bucket] = 0;
    }
  }
}

/**
 * Watches a route's versions and moves all traffic back to the stable one when another's error
 * rate over the window exceeds the stable one's by more than the margin (with enough requests
 * to judge). Once rolled back it waits for the operator: new weights (config or the admin
 * endpoint) start the watch again with fresh counts.
 */
export class VersionRollback {
  private counts = new Map<string, WindowCounts>();
  last: Rollback | undefined = undefined;
  private tripped = false;

  constructor(
    readonly policy: RollbackPolicy,
    private readonly split: VersionSplit,
    private readonly clock: Clock,
    private readonly onRollback: (r: Rollback) => void,
  ) {}

  /** One request's outcome on `version` (failed: a 5xx, a timeout, no answer). */
  record(version: string, failed: boolean): void {
    if (this.tripped) return;
    const now = this.clock.now();
    let c = this.counts.get(version);
    if (c === undefined) this.counts.set(version, (c = new WindowCounts(this.policy.windowMs / BUCKETS)));
    c.add(failed, now);
    if (failed && version !== this.policy.stable) this.judge(version, c, now);
  }

  /** The operator set new weights: watch again from zero. */
  reset(): void {
    this.counts = new Map();
    this.tripped = false;
  }

  private judge(version: string, c: WindowCounts, now: number): void {
    const { total, failed } = c.sums(now);
    if (total < this.policy.minRequests) return;
    const stable = this.counts.get(this.policy.stable)?.sums(now);
    const stableRate = stable !== undefined && stable.total > 0 ? stable.failed / stable.total : 0;
    const rate = failed / total;
    if ((rate - stableRate) * 100 <= this.policy.marginPercent) return;
    const weights: Record<string, number> = {};
    for (const v of Object.keys(this.split.all)) weights[v] = 0;
    weights[this.policy.stable] = 100;
    this.split.set(weights);
    this.tripped = true;
    const r: Rollback = { at: new Date(this.clock.now()).toISOString(), from: version, to: this.policy.stable, errorRate: rate, stableErrorRate: stableRate, requests: total };
    this.last = r;
    this.onRollback(r);
  }
}
