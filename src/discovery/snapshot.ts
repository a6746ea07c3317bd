import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import * as v from "valibot";
import { type Clock, systemClock, type TimerHandle } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { ServiceInstance } from "./types.ts";

const InstanceSchema = v.object({
  id: v.pipe(v.string(), v.minLength(1)),
  service: v.string(),
  address: v.pipe(v.string(), v.minLength(1)),
  port: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)),
  grpcPort: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535))),
  weight: v.pipe(v.number(), v.minValue(0)),
  tags: v.array(v.string()),
  meta: v.record(v.string(), v.string()),
});

const SnapshotSchema = v.object({
  version: v.literal(1),
  services: v.record(v.string(), v.object({ saved_at: v.number(), instances: v.array(InstanceSchema) })),
});

/** One service's last known good set and when Consul said so (epoch ms). */
export interface SnapshotEntry {
  readonly savedAt: number;
  readonly instances: readonly ServiceInstance[];
}

export interface SnapshotFileOptions {
  log: Logger;
  clock?: Clock;
  /** Coalesces bursts of changes into one write. */
  debounceMs?: number;
}

/**
 * The last set Consul gave for each service, on disk, so a role restarting while Consul is down
 * still finds its peers. Writes go to a temp file renamed over the old one: a crash mid-write
 * leaves the previous snapshot, never a torn one.
 */
export class SnapshotFile {
  private readonly entries = new Map<string, SnapshotEntry>();
  private readonly clock: Clock;
  private readonly debounceMs: number;
  private timer: TimerHandle | undefined;
  private warned = false;

  constructor(readonly path: string, private readonly options: SnapshotFileOptions) {
    this.clock = options.clock ?? systemClock;
    this.debounceMs = options.debounceMs ?? 250;
  }

  /** Reads the file; a missing, unreadable or malformed file yields nothing (and one warning if it exists). */
  load(): ReadonlyMap<string, SnapshotEntry> {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return this.entries;
    }
    let parsed: v.InferOutput<typeof SnapshotSchema>;
    try {
      parsed = v.parse(SnapshotSchema, JSON.parse(text));
    } catch (error) {
      this.options.log.warn("discovery snapshot ignored: not a valid snapshot file", { path: this.path, err: error });
      return this.entries;
    }
    for (const [service, entry] of Object.entries(parsed.services)) {
      this.entries.set(service, { savedAt: entry.saved_at, instances: entry.instances.map((i) => ({ ...i, service })) });
    }
    return this.entries;
  }

  get(service: string): SnapshotEntry | undefined {
    return this.entries.get(service);
  }

  /** Records a service's new set; written to disk shortly after (bursts coalesce). */
  update(service: string, instances: readonly ServiceInstance[]): void {
    this.entries.set(service, { savedAt: this.clock.now(), instances });
    if (this.timer !== undefined) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, this.debounceMs);
    this.timer.unref?.();
  }

  /** Writes now if a write is pending. */
  flush(): void {
    if (this.timer === undefined) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.write();
  }

  private write(): void {
    const services: Record<string, { saved_at: number; instances: readonly ServiceInstance[] }> = {};
    for (const [service, entry] of this.entries) services[service] = { saved_at: entry.savedAt, instances: entry.instances };
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileSync(tmp, JSON.stringify({ version: 1, services }, null, 1));
      renameSync(tmp, this.path);
      this.warned = false;
    } catch (error) {
      // A read-only data dir costs restarts their head start, nothing else: warn once, keep serving.
      if (!this.warned) this.options.log.warn("discovery snapshot not written", { path: this.path, err: error });
      this.warned = true;
    }
  }
}
