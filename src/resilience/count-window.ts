import type { SlidingWindow } from "./sliding-window.ts";

const FAILED = 1;
const SLOW = 2;

/** The last `size` calls in a ring of one byte each (bit 0 failed, bit 1 slow). */
export class CountBasedWindow implements SlidingWindow {
  private readonly ring: Uint8Array;
  private readonly size: number;
  private head = 0;
  buffered = 0;
  failed = 0;
  slow = 0;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`slidingWindowSize must be a positive integer, got ${size}`);
    this.size = size;
    this.ring = new Uint8Array(size);
  }

  record(_nowMs: number, failed: boolean, slow: boolean): void {
    const head = this.head;
    if (this.buffered === this.size) {
      const evicted = this.ring[head]!;
      this.failed -= evicted & FAILED;
      this.slow -= evicted >> 1;
    } else {
      this.buffered++;
    }
    const bits = (failed ? FAILED : 0) | (slow ? SLOW : 0);
    this.ring[head] = bits;
    this.failed += bits & FAILED;
    this.slow += bits >> 1;
    this.head = head + 1 === this.size ? 0 : head + 1;
  }

  refresh(_nowMs: number): void {}

  reset(): void {
    this.ring.fill(0);
    this.head = 0;
    this.buffered = 0;
    this.failed = 0;
    this.slow = 0;
  }
}
