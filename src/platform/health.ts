/** Seed §4 health model: named checks aggregated to UP / DOWN / UNKNOWN. */
export type HealthState = "UP" | "DOWN" | "UNKNOWN";
export interface HealthStatus {
  status: HealthState;
  details: Record<string, unknown>;
  timestamp: number;
}
export type HealthCheckFn = () => HealthStatus | Promise<HealthStatus>;

/** Any DOWN → DOWN, else any UNKNOWN → UNKNOWN, else UP (an empty set is UP). */
export function aggregateStatus(statuses: Iterable<HealthState>): HealthState {
  let unknown = false;
  for (const s of statuses) {
    if (s === "DOWN") return "DOWN";
    if (s === "UNKNOWN") unknown = true;
  }
  return unknown ? "UNKNOWN" : "UP";
}

export class HealthRegistry {
  private readonly checks = new Map<string, HealthCheckFn>();

  register(name: string, check: HealthCheckFn): void {
    this.checks.set(name, check);
  }

  async check(timeoutMs = 2_000): Promise<HealthStatus> {
    const entries = [...this.checks];
    const results = await Promise.all(
      entries.map(async ([name, fn]): Promise<[string, HealthStatus]> => {
        try {
          const status = await Promise.race([
            Promise.resolve(fn()),
            Bun.sleep(timeoutMs).then((): HealthStatus => ({ status: "UNKNOWN", details: { error: `check timed out after ${timeoutMs} ms` }, timestamp: Date.now() })),
          ]);
          return [name, status];
        } catch (err) {
          return [name, { status: "DOWN", details: { error: (err as Error).message }, timestamp: Date.now() }];
        }
      }),
    );
    return {
      status: aggregateStatus(results.map(([, s]) => s.status)),
      details: Object.fromEntries(results),
      timestamp: Date.now(),
    };
  }
}

export const up = (details: Record<string, unknown> = {}): HealthStatus => ({ status: "UP", details, timestamp: Date.now() });
export const down = (details: Record<string, unknown> = {}): HealthStatus => ({ status: "DOWN", details, timestamp: Date.now() });
