export type Listener<T> = (event: T) => void;

/**
 * A tiny typed event source. Emitters check `hasListeners` before building an event,
 * so an unobserved policy allocates nothing per call.
 */
export class Emitter<T> {
  private listeners: Listener<T>[] = [];
  hasListeners = false;

  /** Subscribes; returns the function that unsubscribes. */
  on(listener: Listener<T>): () => void {
    this.listeners = [...this.listeners, listener];
    this.hasListeners = true;
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
      this.hasListeners = this.listeners.length > 0;
    };
  }

  emit(event: T): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's bug must not change a policy's decision or the caller's outcome.
      }
    }
  }
}
