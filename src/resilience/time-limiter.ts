import { type Clock, systemClock } from "../core/clock.ts";
import { TIME_LIMITER_DEFAULTS, type TimeLimiterConfig } from "./config.ts";
import { Emitter } from "./emitter.ts";
import { TimeoutError } from "./errors.ts";
import { type CallOptions, invoke, NEVER_ABORTED, type Policy } from "./policy.ts";

export interface TimeLimiterOptions extends Partial<TimeLimiterConfig> {
  name?: string;
  clock?: Clock;
}

export interface TimeoutEvent { name: string; timeoutMs: number; reason: "timeout" | "deadline" }

/**
 * Bounds a call by timeoutDuration and by the caller's deadline, whichever is sooner, and
 * aborts the signal handed to the call so the transport really cancels the request.
 */
export class TimeLimiter implements Policy {
  readonly name: string;
  readonly config: Readonly<TimeLimiterConfig>;
  readonly onTimeout = new Emitter<TimeoutEvent>();
  private readonly clock: Clock;
  private timeouts = 0;

  constructor(options: TimeLimiterOptions = {}) {
    const { name, clock, ...config } = options;
    this.name = name ?? "default";
    this.clock = clock ?? systemClock;
    this.config = Object.freeze({
      timeoutDuration: config.timeoutDuration ?? TIME_LIMITER_DEFAULTS.timeoutDuration,
      cancelRunningFuture: config.cancelRunningFuture ?? TIME_LIMITER_DEFAULTS.cancelRunningFuture,
    });
  }

  metrics(): { timeouts: number } {
    return { timeouts: this.timeouts };
  }

  execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal = NEVER_ABORTED, options?: CallOptions): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason);
    let timeoutMs = this.config.timeoutDuration;
    let reason: "timeout" | "deadline" = "timeout";
    const deadline = options?.deadline;
    if (deadline !== undefined) {
      const left = deadline - this.clock.now();
      if (left < timeoutMs) {
        timeoutMs = left;
        reason = "deadline";
      }
    }
    if (timeoutMs <= 0) return Promise.reject(this.timedOut(0, reason));

    const controller = new AbortController();
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const onCallerAbort = () => {
        if (settled) return;
        settled = true;
        this.clock.clearTimeout(timer);
        controller.abort(signal.reason);
        reject(signal.reason);
      };
      const timer = this.clock.setTimeout(() => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onCallerAbort);
        const error = this.timedOut(timeoutMs, reason);
        if (this.config.cancelRunningFuture) controller.abort(error);
        reject(error);
      }, timeoutMs);
      if (signal !== NEVER_ABORTED) signal.addEventListener("abort", onCallerAbort, { once: true });
      invoke(fn, controller.signal).then(
        (value) => {
          if (settled) return;
          settled = true;
          this.clock.clearTimeout(timer);
          signal.removeEventListener("abort", onCallerAbort);
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          this.clock.clearTimeout(timer);
          signal.removeEventListener("abort", onCallerAbort);
          reject(error);
        },
      );
    });
  }

  private timedOut(timeoutMs: number, reason: "timeout" | "deadline"): TimeoutError {
    this.timeouts++;
    if (this.onTimeout.hasListeners) this.onTimeout.emit({ name: this.name, timeoutMs, reason });
    return new TimeoutError(this.name, timeoutMs, reason);
  }
}
