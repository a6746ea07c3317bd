import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

export interface Migration {
  /** Sortable id, e.g. "001_init". */
  id: string;
  sql: string;
}

export interface SqliteOptions {
  synchronous: "NORMAL" | "FULL";
  busyTimeoutMs: number;
}

/**
 * Opens a SQLite store in WAL mode. A commit is on disk (in the WAL) before it
 * returns, so an acknowledged write survives kill -9 of the process.
 */
export function openSqlite(path: string, opts: SqliteOptions, migrations: readonly Migration[]): Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(`PRAGMA synchronous = ${opts.synchronous}`);
  db.exec(`PRAGMA busy_timeout = ${Math.round(opts.busyTimeoutMs)}`);
  db.exec("PRAGMA foreign_keys = ON");
  migrate(db, migrations);
  return db;
}

/** Applies migrations not yet recorded, each in its own transaction, in id order. */
export function migrate(db: Database, migrations: readonly Migration[]): void {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)");
  const applied = new Set(db.query<{ id: string }, []>("SELECT id FROM schema_migrations").all().map((r) => r.id));
  for (const m of [...migrations].sort((a, b) => a.id.localeCompare(b.id))) {
    if (applied.has(m.id)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.query("INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)").run(m.id, new Date().toISOString());
    })();
  }
}
