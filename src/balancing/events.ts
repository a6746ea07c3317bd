/** What a balancer tells telemetry and logs about its instances. */
export interface BalancerEvents {
  /** Passive outlier detection took the instance out of rotation until `untilMs`. */
  ejected: { service: string; instanceId: string; untilMs: number; ejections: number; consecutiveFailures: number };
  /** An ejection was due but max_ejection_percent already had its share out. */
  ejectionSkipped: { service: string; instanceId: string; ejectedNow: number; maxEjected: number };
  /** The ejection time ran out; the instance is back in rotation. */
  returned: { service: string; instanceId: string };
  /** Active health checking changed its verdict. */
  healthChanged: { service: string; instanceId: string; healthy: boolean };
}

export type Listener<T> = (event: T) => void;

/** A tiny typed emitter: synchronous, listener errors are swallowed so they never break a pick. */
export class Emitter<E extends object> {
  private readonly listeners: { [K in keyof E]?: Listener<E[K]>[] } = {};

  on<K extends keyof E>(name: K, fn: Listener<E[K]>): () => void {
    const list = (this.listeners[name] ??= []);
    list.push(fn);
    return () => {
      const i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    };
  }

  emit<K extends keyof E>(name: K, event: E[K]): void {
    const list = this.listeners[name];
    if (list === undefined) return;
    for (const fn of list.slice()) {
      try {
        fn(event);
      } catch {
        // A telemetry listener must not take the balancer down.
      }
    }
  }

  hasListeners(name: keyof E): boolean {
    return (this.listeners[name]?.length ?? 0) > 0;
  }
}
