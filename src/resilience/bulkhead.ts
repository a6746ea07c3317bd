import { type Clock, type TimerHandle, systemClock } from "../core/clock.ts";
import { BULKHEAD_DEFAULTS, type BulkheadConfig } from "./config.ts";
import { Emitter } from "./emitter.ts";
import { BulkheadFullError, TimeoutError } from "./errors.ts";
import { type CallOptions, invoke, NEVER_ABORTED, type Policy } from "./policy.ts";

export interface BulkheadOptions extends Partial<BulkheadConfig> {
  name?: string;
  clock?: Clock;
}

export interface BulkheadMetrics {
  availableConcurrentCalls: number;
  maxAllowedConcurrentCalls: number;
  waiting: number;
  /** Calls rejected since creation (full, queue full, or waited too long). */
  rejected: number;
}

interface Waiter {
  grant(): void;
}

/**
 * Caps concurrent calls to one downstream. Beyond the cap a call may wait in a bounded FIFO
 * for up to maxWaitDuration (and never past its deadline); otherwise it is rejected at once.
 */
export class Bulkhead implements Policy {
  readonly name: string;
  readonly config: Readonly<BulkheadConfig>;
  readonly onRejected = new Emitter<{ name: string }>();
  private readonly clock: Clock;
  private active = 0;
  private rejected = 0;
  /** Insertion-ordered, so the first element is the longest waiter; deletion is O(1). */
  private readonly queue = new Set<Waiter>();

  constructor(options: BulkheadOptions = {}) {
    const { name, clock, ...config } = options;
    this.name = name ?? "default";
    this.clock = clock ?? systemClock;
    this.config = Object.freeze({
      maxConcurrentCalls: config.maxConcurrentCalls ?? BULKHEAD_DEFAULTS.maxConcurrentCalls,
      maxWaitDuration: config.maxWaitDuration ?? BULKHEAD_DEFAULTS.maxWaitDuration,
      maxWaitingCalls: config.maxWaitingCalls ?? BULKHEAD_DEFAULTS.maxWaitingCalls,
    });
  }

  metrics(): BulkheadMetrics {
    return {
      availableConcurrentCalls: this.config.maxConcurrentCalls - this.active,
      maxAllowedConcurrentCalls: this.config.maxConcurrentCalls,
      waiting: this.queue.size,
      rejected: this.rejected,
    };
  }

  /** Takes a slot without waiting (hot path); pair every `true` with `releasePermission()`. */
  tryAcquirePermission(): boolean {
    if (this.active < this.config.maxConcurrentCalls) {
      this.active++;
      return true;
    }
    this.countRejection();
    return false;
  }

  /** Frees a slot, handing it straight to the longest waiter if there is one. */
  releasePermission(): void {
    const next = this.queue.values().next();
    if (next.done) {
      this.active--;
      return;
    }
    this.queue.delete(next.value);
    next.value.grant();
  }

  execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal = NEVER_ABORTED, options?: CallOptions): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.active < this.config.maxConcurrentCalls) {
      this.active++;
      return this.run(fn, signal);
    }
    let waitMs = this.config.maxWaitDuration;
    let limitedByDeadline = false;
    const deadline = options?.deadline;
    if (deadline !== undefined && deadline - this.clock.now() < waitMs) {
      waitMs = deadline - this.clock.now();
      limitedByDeadline = true;
    }
    if (waitMs <= 0 || this.queue.size >= this.config.maxWaitingCalls) return Promise.reject(this.full());

    return new Promise<T>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const onAbort = () => {
        this.queue.delete(waiter);
        if (timer !== undefined) this.clock.clearTimeout(timer);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        grant: () => {
          if (timer !== undefined) this.clock.clearTimeout(timer);
          signal.removeEventListener("abort", onAbort);
          this.run(fn, signal).then(resolve, reject);
        },
      };
      timer = this.clock.setTimeout(() => {
        this.queue.delete(waiter);
        signal.removeEventListener("abort", onAbort);
        reject(limitedByDeadline ? new TimeoutError(this.name, waitMs, "deadline") : this.full());
      }, waitMs);
      if (signal !== NEVER_ABORTED) signal.addEventListener("abort", onAbort, { once: true });
      this.queue.add(waiter);
    });
  }

  private run<T>(fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    return invoke(fn, signal).then(
      (value) => {
        this.releasePermission();
        return value;
      },
      (error: unknown) => {
        this.releasePermission();
        throw error;
      },
    );
  }

  private full(): BulkheadFullError {
    this.countRejection();
    return new BulkheadFullError(this.name, this.config.maxConcurrentCalls);
  }

  private countRejection(): void {
    this.rejected++;
    if (this.onRejected.hasListeners) this.onRejected.emit({ name: this.name });
  }
}
