import type { Clock, TimerHandle } from "../core/clock.ts";
import type { Backoff } from "./consul-backoff.ts";
import type { ConsulApi } from "./consul-client.ts";
import { nextWaitIndex } from "./consul-index.ts";
import { MalformedAnswerError, sameInstances, toInstances } from "./consul-mapping.ts";
import type { ServiceInstance } from "./types.ts";

/** Where the current set came from: nothing yet, the on-disk snapshot, or Consul itself. */
export type SetSource = "none" | "snapshot" | "consul";

export interface ServiceWatchOptions {
  service: string;
  api: ConsulApi;
  clock: Clock;
  backoff: Backoff;
  /** Blocking query wait. */
  waitMs: number;
  /** Least time between the starts of two queries (Consul's docs: rate-limit blocking loops). */
  minIntervalMs: number;
  tag?: string;
  /** Last known good set from the snapshot, served until Consul answers. */
  seed?: { instances: readonly ServiceInstance[]; savedAt: number };
  /** A new set: Consul's first answer, then only sets that differ from the one before. */
  onChange: (instances: readonly ServiceInstance[]) => void;
  onSuccess: () => void;
  onFailure: (error: unknown) => void;
}

/**
 * One blocking-query loop on /v1/health/service/<name>?passing for one service. A failed or
 * malformed answer never touches the set; it only backs off (with jitter) and retries.
 */
export class ServiceWatch {
  readonly service: string;
  private current: readonly ServiceInstance[] = [];
  private from: SetSource = "none";
  private knownAt: number | undefined;
  private failing = false;
  private failedSince: number | undefined;
  private lastFailure: unknown;
  private closed = false;
  private abort: AbortController | undefined;
  private sleeping: { timer: TimerHandle; wake: () => void } | undefined;
  private settle!: () => void;
  /** Settles on the first answer, good or bad. */
  readonly firstAnswer: Promise<void> = new Promise((resolve) => (this.settle = resolve));

  constructor(private readonly options: ServiceWatchOptions) {
    this.service = options.service;
    if (options.seed) {
      this.current = options.seed.instances;
      this.from = "snapshot";
      this.knownAt = options.seed.savedAt;
    }
  }

  get instances(): readonly ServiceInstance[] {
    return this.current;
  }

  get source(): SetSource {
    return this.from;
  }

  /** Epoch ms when the current set was last confirmed by Consul (or saved, for a snapshot). */
  get confirmedAt(): number | undefined {
    return this.knownAt;
  }

  /** The last call failed and the set is whatever was known before. */
  get isFailing(): boolean {
    return this.failing;
  }

  /** Epoch ms of the first failure in the current run of failures. */
  get failingSince(): number | undefined {
    return this.failedSince;
  }

  get lastError(): unknown {
    return this.lastFailure;
  }

  start(): void {
    void this.run();
  }

  close(): void {
    this.closed = true;
    this.abort?.abort();
    this.wakeUp();
    this.settle();
  }

  private async run(): Promise<void> {
    const { api, clock, backoff, service, waitMs, minIntervalMs, tag } = this.options;
    let index: bigint | undefined;
    let lastStart = Number.NEGATIVE_INFINITY;
    while (!this.closed) {
      await this.sleep(lastStart + minIntervalMs - clock.now());
      if (this.closed) break;
      lastStart = clock.now();
      this.abort = new AbortController();
      try {
        const answer = await api.health({ service, waitMs, signal: this.abort.signal, ...(index !== undefined ? { index } : {}), ...(tag ? { tag } : {}) });
        if (this.closed) break;
        if (answer.index === undefined) throw new MalformedAnswerError(`health answer for ${service} has no X-Consul-Index`);
        const instances = toInstances(service, answer.body);
        index = nextWaitIndex(index, answer.index).next;
        this.accept(instances);
      } catch (error) {
        if (this.closed) break;
        // After an error the agent may be a restarted one whose index is far below ours: a
        // blocking call with our old index would sit out the whole wait, so read afresh.
        index = undefined;
        if (!this.failing) this.failedSince = clock.now();
        this.failing = true;
        this.lastFailure = error;
        this.options.onFailure(error);
        this.settle();
        await this.sleep(backoff.next());
      }
    }
  }

  private accept(instances: ServiceInstance[]): void {
    // The first answer always counts as news, so the snapshot learns even an empty set.
    const changed = this.from !== "consul" || !sameInstances(this.current, instances);
    this.from = "consul";
    this.knownAt = this.options.clock.now();
    this.failing = false;
    this.failedSince = undefined;
    this.lastFailure = undefined;
    this.options.backoff.reset();
    this.options.onSuccess();
    if (changed) {
      this.current = instances;
      this.options.onChange(instances);
    }
    this.settle();
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.options.clock.setTimeout(() => {
        this.sleeping = undefined;
        resolve();
      }, ms);
      timer.unref?.();
      this.sleeping = { timer, wake: resolve };
    });
  }

  private wakeUp(): void {
    if (!this.sleeping) return;
    this.options.clock.clearTimeout(this.sleeping.timer);
    this.sleeping.wake();
    this.sleeping = undefined;
  }
}
