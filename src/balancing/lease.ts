import type { ServiceInstance } from "../discovery/types.ts";
import type { Endpoint } from "./endpoint.ts";

/**
 * How a request through a lease ended, as far as the instance's health goes:
 * - success: any answer the instance gave on purpose, 4xx included;
 * - failure: 5xx, connection error, timeout (counts towards ejection);
 * - load: 429 / RESOURCE_EXHAUSTED (back off, never eject);
 * - cancelled: the caller gave up; says nothing about the instance.
 */
export type Outcome = "success" | "failure" | "load" | "cancelled";

export interface ReleaseReport {
  /** Default "success". */
  outcome?: Outcome;
  /** Default: clock time since the pick. */
  latencyMs?: number;
  /** Retry-After the instance sent with a load outcome. */
  retryAfterMs?: number;
}

/** What a lease reports back to (its balancer). */
export interface Settler {
  settle(endpoint: Endpoint, startedAtMs: number, report: ReleaseReport | undefined): void;
}

/** One request's hold on an instance. Release it exactly once (further calls are ignored). */
export class Lease {
  readonly ok = true as const;
  private released = false;

  constructor(
    private readonly settler: Settler,
    private readonly endpoint: Endpoint,
    readonly startedAtMs: number,
    /** A sticky id was given but could not be honoured: set the cookie to `stickyId` again. */
    readonly repinned: boolean,
  ) {}

  get instance(): ServiceInstance {
    return this.endpoint.instance;
  }

  /** Cookie value that pins a client to this instance. */
  get stickyId(): string {
    return this.endpoint.stickyId;
  }

  release(report?: ReleaseReport): void {
    if (this.released) return;
    this.released = true;
    this.settler.settle(this.endpoint, this.startedAtMs, report);
  }
}
