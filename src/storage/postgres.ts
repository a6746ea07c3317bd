import { SQL } from "bun";
import { UnavailableError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { Notifier } from "./postgres-notify.ts";
import type { Migration } from "./sqlite.ts";

export type { Migration } from "./sqlite.ts";
export type { SQL } from "bun";

/** Migrations of one store (or shared facility), recorded and locked under their own namespace. */
export interface MigrationSet {
  /** e.g. "task-service"; several stores may share one database. */
  namespace: string;
  migrations: readonly Migration[];
}

export interface PostgresOptions {
  /** Shown in pg_stat_activity and logs, e.g. "bpm-task-service". */
  name: string;
  /** Applied in order at open, each set under its own advisory lock. */
  migrations: readonly MigrationSet[];
  /** Pool size. Default 10. */
  maxConnections?: number;
  /** How long to wait for a connection before failing. Default 10 s. */
  connectTimeoutMs?: number;
  /** Idle pool connections are closed after this long. Default 60 s. */
  idleTimeoutMs?: number;
  log?: Logger;
}

export interface TransactionOptions {
  /** Default: PostgreSQL's (read committed). */
  isolation?: "read committed" | "repeatable read" | "serializable";
  /** Serialization failures and deadlocks are retried this many times. Default 3 when isolation is set, else 0. */
  retries?: number;
}

export interface Listener {
  readonly channel: string;
  close(): Promise<void>;
}

/** A pool on one PostgreSQL database, migrated, with the helpers every store needs. */
export interface PostgresDb {
  readonly sql: SQL;
  /** "host:port/database", never the password. */
  readonly where: string;
  /** Runs `fn` in one transaction: commit when it resolves, rollback when it throws. */
  transaction<T>(fn: (tx: SQL) => Promise<T>, opts?: TransactionOptions): Promise<T>;
  /**
   * LISTENs on `channel` over one dedicated connection that is re-established after a loss.
   * `onResync` runs after each re-LISTEN: notifications sent while disconnected are gone.
   */
  listen(channel: string, onPayload: (payload: string) => void, onResync?: () => void): Promise<Listener>;
  /**
   * NOTIFY after the fact: call it once the write it announces has committed. Ordered, batched,
   * fire-and-forget (at most 7999 bytes per payload). Not in the write's transaction on purpose:
   * see migrations/postgres_events_001.sql.
   */
  notify(channel: string, payload: string): void;
  /** Resolves when every notify() so far has been sent. */
  flushNotifications(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** bpm's first advisory-lock key: ASCII "bpm". The second key names the namespace. */
const LOCK_CLASS = 0x62706d;

/** FNV-1a, 32 bit, as a signed int4: a stable advisory-lock key for a name. */
export function advisoryKey(name: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(name)) h = Math.imul(h ^ byte, 0x01000193);
  return h | 0;
}

/** "host:port/database" of a postgres:// URL, for messages (the password never appears). */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}${u.pathname || "/"}`;
  } catch {
    return "(unparseable URL)";
  }
}

/** Thrown when the database cannot be used at start: one line, no password, no stack needed. */
export class DatabaseStartupError extends Error {
  override readonly name = "DatabaseStartupError";
}

function checkUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DatabaseStartupError("DATABASE_URL (storage.database_url) must be a postgres://user:password@host:port/database URL");
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new DatabaseStartupError(`DATABASE_URL (storage.database_url) must start with postgres:// or postgresql://, got ${u.protocol}//`);
  }
  if (!u.hostname) throw new DatabaseStartupError("DATABASE_URL (storage.database_url) names no host");
}

interface PgErrorLike {
  code?: string;
  errno?: string;
  message?: string;
}

/** True when the error means "the database cannot be reached right now" (not a bad query). */
export function isUnavailable(err: unknown): boolean {
  const e = err as PgErrorLike | undefined;
  if (!e || typeof e !== "object") return false;
  const code = typeof e.code === "string" ? e.code : "";
  if (code.startsWith("ERR_POSTGRES_CONNECTION_") || code.includes("TIMEOUT")) return true;
  const state = typeof e.errno === "string" ? e.errno : "";
  // 08: connection exception; 57P01-03: admin shutdown, crash shutdown, cannot connect now; 53300: too many connections
  return state.startsWith("08") || state === "57P01" || state === "57P02" || state === "57P03" || state === "53300";
}

/** Connection-level failures become 503 / UNAVAILABLE; anything else is rethrown as is. */
export function mapDatabaseError(err: unknown, where: string): never {
  if (isUnavailable(err)) throw new UnavailableError(`database unavailable (${where}): ${(err as Error).message}`, 1_000, "DATABASE_UNAVAILABLE");
  throw err;
}

function startupMessage(err: unknown, where: string): string {
  const e = err as PgErrorLike;
  const msg = (e?.message ?? String(err)).split("\n")[0];
  if (typeof e?.errno === "string" && e.errno.length === 5) return `PostgreSQL at ${where} refused: ${msg} (SQLSTATE ${e.errno})`;
  return `cannot connect to PostgreSQL at ${where}: ${msg} (${e?.code ?? "error"})`;
}

const RETRYABLE = new Set(["40001", "40P01"]);

/**
 * Opens a pool, checks the server answers, and applies each migration set under
 * `pg_advisory_lock(bpm, hash(namespace))` so replicas starting together migrate once.
 * Errors at start are DatabaseStartupError with one readable line.
 */
export async function openPostgres(url: string, opts: PostgresOptions): Promise<PostgresDb> {
  checkUrl(url);
  const where = describeDatabaseUrl(url);
  const sql = new SQL(url, {
    max: opts.maxConnections ?? 10,
    connectionTimeout: Math.ceil((opts.connectTimeoutMs ?? 10_000) / 1000),
    idleTimeout: Math.ceil((opts.idleTimeoutMs ?? 60_000) / 1000),
    connection: { application_name: opts.name },
  });
  try {
    await sql`SELECT 1`;
  } catch (err) {
    await sql.close({ timeout: 0 }).catch(() => {});
    throw new DatabaseStartupError(startupMessage(err, where));
  }
  try {
    for (const set of opts.migrations) {
      const applied = await migratePostgres(sql, set);
      if (applied.length > 0) opts.log?.info("database migrated", { namespace: set.namespace, applied, database: where });
    }
  } catch (err) {
    await sql.close({ timeout: 0 }).catch(() => {});
    if (err instanceof DatabaseStartupError) throw err;
    throw new DatabaseStartupError(`migrating PostgreSQL at ${where} failed: ${(err as Error).message.split("\n")[0]}`);
  }

  const listeners = new Set<Listener>();
  const notifier = new Notifier(url, opts.name, opts.log);
  const db: PostgresDb = {
    sql,
    where,
    async transaction<T>(fn: (tx: SQL) => Promise<T>, topts: TransactionOptions = {}): Promise<T> {
      let left = topts.retries ?? (topts.isolation ? 3 : 0);
      for (;;) {
        try {
          const result = topts.isolation ? sql.begin(`isolation level ${topts.isolation}`, (tx) => fn(tx)) : sql.begin((tx) => fn(tx));
          return (await result) as T;
        } catch (err) {
          const state = (err as PgErrorLike).errno;
          if (left-- > 0 && typeof state === "string" && RETRYABLE.has(state)) continue;
          mapDatabaseError(err, where);
        }
      }
    },
    async listen(channel, onPayload, onResync) {
      let acknowledged = 0;
      const sub = await sql.listen(channel, onPayload, () => {
        // the first acknowledgement is the initial LISTEN; later ones follow a reconnect
        if (acknowledged++ > 0) {
          opts.log?.warn("database listener reconnected; resynchronising", { channel, database: where });
          onResync?.();
        }
      });
      const listener: Listener = {
        channel,
        close: async () => {
          listeners.delete(listener);
          await sub.unlisten();
        },
      };
      listeners.add(listener);
      return listener;
    },
    notify: (channel, payload) => notifier.send(channel, payload),
    flushNotifications: () => notifier.flush(),
    async ping() {
      try {
        await sql`SELECT 1`;
      } catch (err) {
        mapDatabaseError(err, where);
      }
    },
    async close() {
      for (const l of [...listeners]) await l.close().catch(() => {});
      await notifier.close();
      await sql.close({ timeout: 5 });
    },
  };
  return db;
}

/**
 * Applies the set's migrations not yet in schema_migrations, each in its own
 * transaction, in id order, holding the namespace's advisory lock on one connection.
 * Returns the ids applied now.
 */
export async function migratePostgres(sql: SQL, set: MigrationSet): Promise<string[]> {
  const conn = await sql.reserve();
  const key = advisoryKey(set.namespace);
  try {
    await conn.begin(async (tx) => {
      // the table every namespace shares is created once, under bpm's lock 0
      await tx`SELECT pg_advisory_xact_lock(${LOCK_CLASS}, 0)`;
      await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
        namespace TEXT NOT NULL, id TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (namespace, id))`;
    });
    await conn`SELECT pg_advisory_lock(${LOCK_CLASS}, ${key})`;
    try {
      const rows: { id: string }[] = await conn`SELECT id FROM schema_migrations WHERE namespace = ${set.namespace}`;
      const done = new Set(rows.map((r) => r.id));
      const applied: string[] = [];
      for (const m of [...set.migrations].sort((a, b) => a.id.localeCompare(b.id))) {
        if (done.has(m.id)) continue;
        await conn.begin(async (tx) => {
          await tx.unsafe(m.sql);
          await tx`INSERT INTO schema_migrations (namespace, id) VALUES (${set.namespace}, ${m.id})`;
        });
        applied.push(m.id);
      }
      return applied;
    } finally {
      // a lost connection has released the lock already; its error is the one to report
      await conn`SELECT pg_advisory_unlock(${LOCK_CLASS}, ${key})`.catch(() => {});
    }
  } finally {
    await conn.release();
  }
}
