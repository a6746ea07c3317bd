// Fresh, empty PostgreSQL databases on one test server, so every store under test starts clean.
import { afterAll, afterEach, beforeAll } from "bun:test";
import { SQL } from "bun";
import { createLogger, type Logger } from "../../../src/platform/logger.ts";
import { startPostgres, type PostgresServer } from "../../support/postgres.ts";
import { makeTempDir, removeTempDir } from "../../support/process.ts";

let n = 0;

/** Creates a new database on `server` and returns its URL (same user and password). */
export async function freshDatabase(server: PostgresServer, prefix = "t"): Promise<string> {
  const name = `${prefix}_${process.pid}_${++n}`;
  const admin = new SQL(server.url, { max: 1 });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.close();
  }
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Logs warnings and errors only, so a passing run stays readable. */
export function quietLogger(): Logger {
  const base = createLogger({ test: "storage" });
  const quiet: Logger = { ...base, debug: () => {}, info: () => {}, child: () => quiet, enabled: (l) => l === "warn" || l === "error" };
  return quiet;
}

/**
 * The same store suite on SQLite and on a real PostgreSQL: registers the server and cleanup
 * hooks and returns one backend per engine. A backend makes fresh data and returns how to open
 * a store on it (call again for a second replica, or a restart).
 */
export function bothEngines<S extends { close(): Promise<void> }>(
  name: string,
  openSqlite: (dir: string) => S,
  openPostgres: (url: string, log: Logger) => Promise<S>,
): [string, () => Promise<() => Promise<S>>][] {
  const log = quietLogger();
  let pg: PostgresServer | undefined;
  const dirs: string[] = [];
  const open: S[] = [];
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterEach(async () => {
    // a test may have closed a store itself (a restart); closing again must not fail the suite
    for (const s of open.splice(0)) await s.close().catch(() => {});
  });
  afterAll(async () => {
    await pg?.stop();
    for (const d of dirs) removeTempDir(d);
  }, 60_000);
  const track = (s: S) => (open.push(s), s);
  return [
    ["SQLite", async () => {
      const dir = makeTempDir(name);
      dirs.push(dir);
      return async () => track(openSqlite(dir));
    }],
    ["PostgreSQL", async () => {
      const url = await freshDatabase(pg!, name.replace(/\W/g, "_"));
      return async () => track(await openPostgres(url, log));
    }],
  ];
}
