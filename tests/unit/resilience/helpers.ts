/** A call whose outcome the test decides later, to hold calls in flight without sleeping. */
export interface PendingCall<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
  signal: AbortSignal | undefined;
}

export function pending<T = string>(): PendingCall<T> & { fn: (signal: AbortSignal) => Promise<T> } {
  const call = {} as PendingCall<T> & { fn: (signal: AbortSignal) => Promise<T> };
  call.promise = new Promise<T>((resolve, reject) => {
    call.resolve = resolve;
    call.reject = reject;
  });
  call.signal = undefined;
  call.fn = (signal) => {
    call.signal = signal;
    return call.promise;
  };
  return call;
}

/** Settles a promise to a tagged outcome so tests can assert on rejections without try/catch. */
export async function outcome<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Lets queued promise callbacks run (no timers involved). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

export const ok = () => Promise.resolve("ok");
export const fail = () => Promise.reject(new Error("boom"));
