import { UnavailableError } from "../core/errors.ts";

/** The balancer has no usable instance: answered 503 at once, never retried. */
export class NoHealthyInstanceError extends UnavailableError {
  /** Our own verdict, not the downstream's: breakers ignore it and retries do not repeat it. */
  readonly localRejection = true;
  constructor(service: string, reason: string, retryAfterMs?: number) {
    super(`no healthy instance of ${service} (${reason.replace(/_/g, " ")})`, retryAfterMs ?? 1_000, "NO_HEALTHY_INSTANCE");
  }
}
