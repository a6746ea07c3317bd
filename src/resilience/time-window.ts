import type { SlidingWindow } from "./sliding-window.ts";

/**
 * Calls of the last `seconds` seconds (the current partial second included) in per-second
 * buckets; moving forward clears at most `seconds` buckets, so a call is amortised O(1).
 */
export class TimeBasedWindow implements SlidingWindow {
  private readonly seconds: number;
  private readonly calls: Int32Array;
  private readonly failures: Int32Array;
  private readonly slows: Int32Array;
  /** Epoch second of the newest bucket; buckets hold seconds (headSecond - seconds, headSecond]. */
  private headSecond = -Infinity;
  buffered = 0;
  failed = 0;
  slow = 0;

  constructor(seconds: number) {
    if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError(`slidingWindowSize must be a positive integer, got ${seconds}`);
    this.seconds = seconds;
    this.calls = new Int32Array(seconds);
    this.failures = new Int32Array(seconds);
    this.slows = new Int32Array(seconds);
  }

  record(nowMs: number, failed: boolean, slow: boolean): void {
    let second = Math.floor(nowMs / 1000);
    if (second > this.headSecond) this.advance(second);
    else second = this.headSecond; // a clock that steps back counts into the newest bucket
    const i = second % this.seconds;
    this.calls[i]!++;
    this.buffered++;
    if (failed) {
      this.failures[i]!++;
      this.failed++;
    }
    if (slow) {
      this.slows[i]!++;
      this.slow++;
    }
  }

  refresh(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    if (second > this.headSecond) this.advance(second);
  }

  private advance(second: number): void {
    if (second - this.headSecond >= this.seconds) {
      this.reset();
    } else {
      for (let s = this.headSecond + 1; s <= second; s++) this.clearBucket(s % this.seconds);
    }
    this.headSecond = second;
  }

  private clearBucket(i: number): void {
    this.buffered -= this.calls[i]!;
    this.failed -= this.failures[i]!;
    this.slow -= this.slows[i]!;
    this.calls[i] = 0;
    this.failures[i] = 0;
    this.slows[i] = 0;
  }

  reset(): void {
    this.calls.fill(0);
    this.failures.fill(0);
    this.slows.fill(0);
    this.buffered = 0;
    this.failed = 0;
    this.slow = 0;
  }
}
