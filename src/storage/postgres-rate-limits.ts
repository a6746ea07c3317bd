import migrationSql from "./migrations/postgres_rate_limits_001.sql" with { type: "text" };
import type { MigrationSet, SQL } from "./postgres.ts";

export const RATE_LIMIT_MIGRATIONS: MigrationSet = { namespace: "bpm-rate-limits", migrations: [{ id: "001_windows", sql: migrationSql }] };

interface Delta { key: string; start: number; delta: number }
interface Total { key: string; start: number; count: number }

/** Rows of ended windows are deleted at most this often. */
const CLEANUP_EVERY_MS = 60_000;

/**
 * Fixed rate-limit windows in PostgreSQL, added to in batches by every gateway replica:
 * one statement per sync, whatever the number of keys.
 */
export class PostgresWindowCounters {
  private lastCleanup = 0;

  constructor(private readonly sql: SQL) {}

  /**
   * One round trip: the upsert of this replica's deltas, the rows other transactions wrote
   * since `cursor` (read from the statement's snapshot, so the upserted keys come from the
   * upsert), and the next cursor: the oldest transaction still invisible to this snapshot.
   */
  async sync(name: string, windowMs: number, entries: readonly Delta[], cursor: string): Promise<{ totals: Total[]; cursor: string }> {
    const rows = JSON.stringify(entries.map((e) => ({ k: e.key, s: e.start, d: e.delta })));
    const since = cursor === "" ? "0" : cursor;
    const out = (await this.sql`
      WITH up AS (
        INSERT INTO bpm_rate_limit_windows AS t (name, key, window_start, count)
        SELECT ${name}, u.k, u.s, u.d FROM json_to_recordset((${rows}::text)::json) AS u(k text, s bigint, d integer)
        ON CONFLICT (name, key) DO UPDATE SET
          window_start = CASE WHEN t.window_start + ${windowMs} <= EXCLUDED.window_start THEN EXCLUDED.window_start ELSE t.window_start END,
          count = CASE WHEN t.window_start + ${windowMs} <= EXCLUDED.window_start THEN EXCLUDED.count ELSE t.count + EXCLUDED.count END,
          xid = pg_current_xact_id()
        RETURNING key, window_start, count
      )
      SELECT key, window_start, count, NULL AS horizon FROM up
      UNION ALL
      SELECT key, window_start, count, NULL FROM bpm_rate_limit_windows
        WHERE name = ${name} AND xid >= (${since}::text)::xid8 AND key NOT IN (SELECT key FROM up)
      UNION ALL
      SELECT NULL, NULL, NULL, pg_snapshot_xmin(pg_current_snapshot())::text`) as { key: string | null; window_start: string | number | null; count: number | null; horizon: string | null }[];
    const now = Date.now();
    if (now - this.lastCleanup >= CLEANUP_EVERY_MS) {
      this.lastCleanup = now;
      await this.sql`DELETE FROM bpm_rate_limit_windows WHERE name = ${name} AND window_start + ${windowMs} < ${now}`;
    }
    let next = since;
    const totals: Total[] = [];
    for (const r of out) {
      if (r.key === null) next = r.horizon!;
      else totals.push({ key: r.key, start: Number(r.window_start), count: r.count! });
    }
    return { totals, cursor: next };
  }
}
