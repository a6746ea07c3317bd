import type { Logger } from "../../platform/logger.ts";
import type { TaskStore } from "./store.ts";

/** PostgreSQL task store (issue 6). */
export async function openPostgresTaskStore(_url: string, _log: Logger): Promise<TaskStore> {
  throw new Error("PostgreSQL storage is not built yet; unset DATABASE_URL to use SQLite");
}
