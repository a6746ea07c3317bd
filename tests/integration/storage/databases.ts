// Fresh, empty PostgreSQL databases on one test server, so every store under test starts clean.
import { SQL } from "bun";
import { createLogger, type Logger } from "../../../src/platform/logger.ts";
import type { PostgresServer } from "../../support/postgres.ts";

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
