import { type Clock, type TimerHandle, systemClock } from "../core/clock.ts";
import { CIRCUIT_BREAKER_DEFAULTS, type CircuitBreakerConfig } from "./config.ts";
import { CountBasedWindow } from "./count-window.ts";
import { Emitter } from "./emitter.ts";
import { CallNotPermittedError } from "./errors.ts";
import { type ErrorClassifier, defaultErrorClassifier, isFailedResponse, type ResultPredicate } from "./outcome.ts";
import { type CallOptions, NEVER_ABORTED, type Policy } from "./policy.ts";
import type { SlidingWindow } from "./sliding-window.ts";
import { TimeBasedWindow } from "./time-window.ts";

export type CircuitState = "CLOSED" | "OPEN" | "HALF_OPEN" | "DISABLED" | "FORCED_OPEN";

// Small ints on the hot path; names only at the edges.
const CLOSED = 0, OPEN = 1, HALF_OPEN = 2, DISABLED = 3, FORCED_OPEN = 4;
const STATE_NAMES: readonly CircuitState[] = ["CLOSED", "OPEN", "HALF_OPEN", "DISABLED", "FORCED_OPEN"];

/** Retry-After hint when HALF_OPEN has no trial slot left (trials finish quickly or time out). */
const HALF_OPEN_RETRY_AFTER_MS = 1_000;

export interface CircuitBreakerOptions extends Partial<CircuitBreakerConfig> {
  name?: string;
  clock?: Clock;
  /** How an error counts; default: see `defaultErrorClassifier`. */
  classifyError?: ErrorClassifier;
  /** Marks a returned value as a failure (default: a Response with status >= 500); null to disable. */
  resultPredicate?: ResultPredicate | null;
}

export interface StateTransitionEvent { name: string; from: CircuitState; to: CircuitState; reason: string }
export interface CallEvent { name: string; durationMs: number }
/** `error` is the thrown error, the failing result (e.g. a 5xx Response), or undefined via `onResult`. */
export interface ErrorEvent extends CallEvent { error: unknown }
export interface NotPermittedEvent { name: string; state: CircuitState }

export interface CircuitBreakerMetrics {
  state: CircuitState;
  /** Percent of failed calls in the window; -1 until minimumNumberOfCalls are recorded (as Resilience4j). */
  failureRate: number;
  /** Percent of slow calls in the window; -1 until minimumNumberOfCalls are recorded. */
  slowCallRate: number;
  buffered: number;
  failed: number;
  slow: number;
  /** Calls rejected since creation (or the last reset). */
  notPermitted: number;
  successfulTotal: number;
  failedTotal: number;
  ignoredTotal: number;
  /** Transitions since creation, keyed "FROM->TO". */
  transitions: Readonly<Record<string, number>>;
}

/**
 * Resilience4j's circuit breaker: a state machine over a sliding window, driven by an
 * injected Clock. `execute` wraps a call; `tryAcquirePermission` + `onResult` is the
 * closure-free path for hot loops (the gateway).
 */
export class CircuitBreaker implements Policy {
  readonly name: string;
  readonly config: Readonly<CircuitBreakerConfig>;
  readonly onStateTransition = new Emitter<StateTransitionEvent>();
  readonly onCallNotPermitted = new Emitter<NotPermittedEvent>();
  readonly onSuccess = new Emitter<CallEvent>();
  readonly onError = new Emitter<ErrorEvent>();
  readonly onSlowCall = new Emitter<CallEvent>();

  private readonly clock: Clock;
  private readonly classify: ErrorClassifier;
  private readonly resultPredicate: ResultPredicate | null;
  private readonly window: SlidingWindow;
  /** Durations are only measured when they can matter: reading the clock costs ~50 ns. */
  private readonly measuresDuration: boolean;
  private readonly measuresTime: boolean;
  private readonly minimumNumberOfCalls: number;
  /** type: consecutive (seed 004, cockatiel's ConsecutiveBreaker): failures in a row open it. */
  private readonly consecutive: boolean;
  private readonly failureThreshold: number;
  private consecutiveFailures = 0;

  private stateCode = CLOSED;
  /** Bumped on every transition, so results of calls admitted in an earlier state are not miscounted. */
  private generation = 0;
  private openUntil = 0;
  private halfOpenSince = 0;
  private halfOpenPermits = 0;
  private halfOpenResults = 0;
  private halfOpenFailed = 0;
  private halfOpenSlow = 0;
  private timer: TimerHandle | undefined;
  /** Result handlers shared by every call of one generation, so CLOSED calls allocate no closures. */
  private settledOk!: (value: unknown) => unknown;
  private settledError!: (error: unknown) => never;

  private notPermitted = 0;
  private successfulTotal = 0;
  private failedTotal = 0;
  private ignoredTotal = 0;
  private transitions: Record<string, number> = {};

  constructor(options: CircuitBreakerOptions = {}) {
    const { name, clock, classifyError, resultPredicate, ...config } = options;
    const merged: CircuitBreakerConfig = { ...CIRCUIT_BREAKER_DEFAULTS };
    for (const [key, value] of Object.entries(config)) if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
    this.config = Object.freeze(merged);
    this.name = name ?? "default";
    this.clock = clock ?? systemClock;
    this.classify = classifyError ?? defaultErrorClassifier;
    this.resultPredicate = resultPredicate === undefined ? isFailedResponse : resultPredicate;
    const timeBased = merged.slidingWindowType === "TIME_BASED";
    this.window = timeBased ? new TimeBasedWindow(merged.slidingWindowSize) : new CountBasedWindow(merged.slidingWindowSize);
    this.minimumNumberOfCalls = timeBased ? merged.minimumNumberOfCalls : Math.min(merged.minimumNumberOfCalls, merged.slidingWindowSize);
    // At a 100% slow-call threshold with calls bounded by a timeout, slowness never decides alone.
    this.consecutive = merged.type === "consecutive";
    this.failureThreshold = merged.failureThreshold;
    this.measuresDuration = !this.consecutive && merged.slowCallRateThreshold < 100;
    this.measuresTime = this.measuresDuration || (timeBased && !this.consecutive);
    this.makeSharedHandlers();
  }

  get state(): CircuitState {
    return STATE_NAMES[this.stateCode]!;
  }

  /** Identifies the current state episode; pass it back to `onResult` to drop stale results. */
  get epoch(): number {
    return this.generation;
  }

  // ---- hot path -------------------------------------------------------------------------

  /** Asks to make one call; false means reject it (count it via `onResult` only when true). */
  tryAcquirePermission(): boolean {
    const state = this.stateCode;
    if (state === CLOSED || state === DISABLED) return true;
    if (state === OPEN) {
      if (this.clock.now() < this.openUntil) return this.reject();
      this.toHalfOpen("waitDurationInOpenState elapsed");
    } else if (state === FORCED_OPEN) {
      return this.reject();
    }
    // HALF_OPEN
    const maxWait = this.config.maxWaitDurationInHalfOpenState;
    if (maxWait > 0 && this.clock.now() - this.halfOpenSince >= maxWait) {
      this.toOpen("maxWaitDurationInHalfOpenState elapsed");
      return this.reject();
    }
    if (this.halfOpenPermits > 0) {
      this.halfOpenPermits--;
      return true;
    }
    return this.reject();
  }

  /** Gives back a permission whose call was never made or whose outcome is ignored. */
  releasePermission(epoch?: number): void {
    if (this.stateCode !== HALF_OPEN || (epoch !== undefined && epoch !== this.generation)) return;
    const unused = this.config.permittedNumberOfCallsInHalfOpenState - this.halfOpenResults;
    if (this.halfOpenPermits < unused) this.halfOpenPermits++;
  }

  /** Records a permitted call's outcome, `failed` as the caller decided (e.g. status >= 500). */
  onResult(durationMs: number, failed: boolean, epoch?: number): void {
    this.record(durationMs, failed, epoch, undefined);
  }

  /** Records an error as the classifier says: failure, success, or ignored (permission released). */
  onErrorResult(durationMs: number, error: unknown, epoch?: number, callerSignal?: AbortSignal): void {
    const outcome = this.classify(error, callerSignal);
    if (outcome === "ignore") {
      this.ignoredTotal++;
      this.releasePermission(epoch);
      return;
    }
    this.record(durationMs, outcome === "failure", epoch, error);
  }

  // ---- Policy ---------------------------------------------------------------------------

  execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal, _options?: CallOptions): Promise<T> {
    if (this.stateCode === CLOSED && (signal === undefined || signal === NEVER_ABORTED) && !this.measuresDuration) {
      // Fast path: no caller signal and no duration to remember, so the shared handlers do.
      let promise: Promise<T>;
      try {
        promise = fn(NEVER_ABORTED);
      } catch (error) {
        this.onErrorResult(0, error, this.generation);
        return Promise.reject(error);
      }
      return promise.then(this.settledOk as (value: T) => T, this.settledError);
    }
    if (this.stateCode !== CLOSED && !this.tryAcquirePermission()) return Promise.reject(this.notPermittedError());
    const epoch = this.generation;
    const start = this.measuresDuration ? this.clock.now() : 0;
    let promise: Promise<T>;
    try {
      promise = fn(signal ?? NEVER_ABORTED);
    } catch (error) {
      this.onErrorResult(this.elapsedSince(start), error, epoch, signal);
      return Promise.reject(error);
    }
    return promise.then(
      (value) => {
        const failed = this.resultPredicate !== null && this.resultPredicate(value);
        this.record(this.elapsedSince(start), failed, epoch, failed ? value : undefined);
        return value;
      },
      (error: unknown) => {
        this.onErrorResult(this.elapsedSince(start), error, epoch, signal);
        throw error;
      },
    );
  }

  /** The typed rejection for the current state, carrying how long until a retry may succeed. */
  notPermittedError(): CallNotPermittedError {
    return new CallNotPermittedError(this.name, this.state, this.retryAfterMs());
  }

  /** Milliseconds until the breaker may admit calls again (0 when it admits now). */
  retryAfterMs(): number {
    switch (this.stateCode) {
      case OPEN: return Math.max(0, Math.ceil(this.openUntil - this.clock.now()));
      case FORCED_OPEN: return this.config.waitDurationInOpenState;
      case HALF_OPEN: return this.halfOpenPermits > 0 ? 0 : HALF_OPEN_RETRY_AFTER_MS;
      default: return 0;
    }
  }

  // ---- operator transitions (admin endpoint) ----------------------------------------------

  transitionToClosedState(): void { this.toClosed("operator"); }
  transitionToOpenState(): void { this.toOpen("operator"); }
  transitionToHalfOpenState(): void { this.toHalfOpen("operator"); }
  transitionToDisabledState(): void { this.transition(DISABLED, "operator"); }
  transitionToForcedOpenState(): void { this.transition(FORCED_OPEN, "operator"); }

  /** Back to CLOSED with empty metrics, as if just created (Resilience4j's reset). */
  reset(): void {
    this.toClosed("reset");
    this.notPermitted = 0;
    this.successfulTotal = 0;
    this.failedTotal = 0;
    this.ignoredTotal = 0;
  }

  /** A snapshot built from running counters: O(1), safe to call on every scrape. */
  metrics(): CircuitBreakerMetrics {
    let buffered: number, failed: number, slow: number, minimum: number;
    if (this.stateCode === HALF_OPEN) {
      buffered = this.halfOpenResults;
      failed = this.halfOpenFailed;
      slow = this.halfOpenSlow;
      minimum = this.config.permittedNumberOfCallsInHalfOpenState;
    } else {
      if (this.measuresTime) this.window.refresh(this.clock.now());
      buffered = this.window.buffered;
      failed = this.window.failed;
      slow = this.window.slow;
      minimum = this.minimumNumberOfCalls;
    }
    if (this.consecutive && this.stateCode !== HALF_OPEN) {
      buffered = failed = this.consecutiveFailures;
      minimum = Number.POSITIVE_INFINITY;
    }
    const enough = buffered >= minimum && buffered > 0;
    return {
      state: this.state,
      failureRate: enough ? (failed * 100) / buffered : -1,
      slowCallRate: enough ? (slow * 100) / buffered : -1,
      buffered,
      failed,
      slow,
      notPermitted: this.notPermitted,
      successfulTotal: this.successfulTotal,
      failedTotal: this.failedTotal,
      ignoredTotal: this.ignoredTotal,
      transitions: { ...this.transitions },
    };
  }

  // ---- internals -------------------------------------------------------------------------

  private makeSharedHandlers(): void {
    const generation = this.generation;
    this.settledOk = (value) => {
      const failed = this.resultPredicate !== null && this.resultPredicate(value);
      this.record(0, failed, generation, failed ? value : undefined);
      return value;
    };
    this.settledError = (error) => {
      this.onErrorResult(0, error, generation);
      throw error;
    };
  }

  private elapsedSince(start: number): number {
    return this.measuresDuration ? this.clock.now() - start : 0;
  }

  private record(durationMs: number, failed: boolean, epoch: number | undefined, error: unknown): void {
    if (failed) this.failedTotal++;
    else this.successfulTotal++;
    const state = this.stateCode;
    const slow = this.measuresDuration && durationMs > this.config.slowCallDurationThreshold;
    if ((epoch === undefined || epoch === this.generation) && state !== OPEN && state < DISABLED) {
      if (this.consecutive) {
        this.recordConsecutive(state, failed);
      } else if (state === CLOSED) {
        const window = this.window;
        window.record(this.measuresTime ? this.clock.now() : 0, failed, slow);
        if (window.buffered >= this.minimumNumberOfCalls) this.checkClosedRates();
      } else {
        this.recordHalfOpen(failed, slow);
      }
    }
    if (failed) {
      if (this.onError.hasListeners) this.onError.emit({ name: this.name, durationMs, error });
    } else if (this.onSuccess.hasListeners) {
      this.onSuccess.emit({ name: this.name, durationMs });
    }
    if (slow && this.onSlowCall.hasListeners) this.onSlowCall.emit({ name: this.name, durationMs });
  }

  private reject(): false {
    this.notPermitted++;
    if (this.onCallNotPermitted.hasListeners) this.onCallNotPermitted.emit({ name: this.name, state: this.state });
    return false;
  }

  private exceedsThresholds(buffered: number, failed: number, slow: number): boolean {
    return failed * 100 >= this.config.failureRateThreshold * buffered || slow * 100 >= this.config.slowCallRateThreshold * buffered;
  }

  private checkClosedRates(): void {
    const w = this.window;
    if (this.exceedsThresholds(w.buffered, w.failed, w.slow)) {
      const failureRate = ((w.failed * 100) / w.buffered).toFixed(1);
      const slowRate = ((w.slow * 100) / w.buffered).toFixed(1);
      this.toOpen(`failure rate ${failureRate}% / slow-call rate ${slowRate}% of ${w.buffered} calls`);
    }
  }

  /** Consecutive: a failure in a row of failureThreshold opens; in HALF_OPEN any failure reopens, successThreshold successes close. */
  private recordConsecutive(state: number, failed: boolean): void {
    if (state === CLOSED) {
      if (!failed) this.consecutiveFailures = 0;
      else if (++this.consecutiveFailures >= this.failureThreshold) this.toOpen(`${this.consecutiveFailures} consecutive failures`);
      return;
    }
    if (failed) {
      this.toOpen("a trial call failed");
    } else if (++this.halfOpenResults >= this.config.successThreshold) {
      this.toClosed(`${this.halfOpenResults} trial calls succeeded`);
    }
  }

  private recordHalfOpen(failed: boolean, slow: boolean): void {
    this.halfOpenResults++;
    if (failed) this.halfOpenFailed++;
    if (slow) this.halfOpenSlow++;
    if (this.halfOpenResults < this.config.permittedNumberOfCallsInHalfOpenState) return;
    if (this.exceedsThresholds(this.halfOpenResults, this.halfOpenFailed, this.halfOpenSlow)) {
      this.toOpen(`${this.halfOpenFailed} failed / ${this.halfOpenSlow} slow of ${this.halfOpenResults} trial calls`);
    } else {
      this.toClosed(`${this.halfOpenResults} trial calls passed`);
    }
  }

  private toOpen(reason: string): void {
    this.transition(OPEN, reason);
    const wait = this.config.waitDurationInOpenState;
    this.openUntil = this.clock.now() + wait;
    if (this.config.automaticTransitionFromOpenToHalfOpenEnabled) {
      this.schedule(() => this.toHalfOpen("waitDurationInOpenState elapsed (automatic)"), wait);
    }
  }

  private toHalfOpen(reason: string): void {
    this.transition(HALF_OPEN, reason);
    this.halfOpenSince = this.clock.now();
    this.halfOpenPermits = this.config.permittedNumberOfCallsInHalfOpenState;
    this.halfOpenResults = 0;
    this.halfOpenFailed = 0;
    this.halfOpenSlow = 0;
    const maxWait = this.config.maxWaitDurationInHalfOpenState;
    if (maxWait > 0) this.schedule(() => this.toOpen("maxWaitDurationInHalfOpenState elapsed"), maxWait);
  }

  private toClosed(reason: string): void {
    this.transition(CLOSED, reason);
    this.window.reset();
    this.consecutiveFailures = 0;
  }

  private schedule(fn: () => void, ms: number): void {
    const generation = this.generation;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.generation === generation) fn();
    }, ms);
    this.timer.unref?.();
  }

  private transition(to: number, reason: string): void {
    const from = this.stateCode;
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.stateCode = to;
    this.generation++;
    if (to === CLOSED) this.makeSharedHandlers();
    if (from === to) return;
    const key = `${STATE_NAMES[from]}->${STATE_NAMES[to]}`;
    this.transitions[key] = (this.transitions[key] ?? 0) + 1;
    if (this.onStateTransition.hasListeners) {
      this.onStateTransition.emit({ name: this.name, from: STATE_NAMES[from]!, to: STATE_NAMES[to]!, reason });
    }
  }
}
