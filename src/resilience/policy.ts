import type { Clock } from "../core/clock.ts";
/** Per-call facts every policy may need; they flow unchanged through a pipeline. */
export interface CallOptions {
  /** Absolute deadline in the clock's epoch ms; every timeout, wait and backoff stays within it. */
  deadline?: number | undefined;
  /**
   * Whether the call may be repeated safely. Undefined means idempotent (a plain function);
   * transports MUST pass `false` for e.g. POST without an Idempotency-Key (see `isIdempotentHttp`).
   */
  idempotent?: boolean | undefined;
}

/** The one shape every policy has (cockatiel's): run `fn`, passing it the signal it must honour. */
export interface Policy {
  execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal, options?: CallOptions): Promise<T>;
}

/** Shared signal for callers that pass none, so the hot path allocates nothing. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** Composes policies outermost first: `wrap(a, b)(fn)` runs `a.execute(() => b.execute(fn))`. */
export function wrap(...policies: readonly Policy[]): Policy {
  const count = policies.length;
  function run<T>(index: number, fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal, options: CallOptions | undefined): Promise<T> {
    if (index === count) return fn(signal);
    const next = index + 1;
    return policies[index]!.execute((inner) => run(next, fn, inner, options), signal, options);
  }
  return {
    execute<T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal, options?: CallOptions): Promise<T> {
      return run(0, fn, signal ?? NEVER_ABORTED, options);
    },
  };
}

/** Resolves after `ms` on `clock`, or rejects with the signal's reason as soon as it fires (retry backoff, rate-limit waits). */
export function sleepUnlessAborted(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = clock.setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal !== NEVER_ABORTED) signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Calls `fn`, turning a synchronous throw into a rejected promise so callers handle one path. */
export function invoke<T>(fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
  try {
    return fn(signal);
  } catch (error) {
    return Promise.reject(error);
  }
}
