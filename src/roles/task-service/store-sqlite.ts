import type { Database } from "bun:sqlite";
import { openSqlite, type SqliteOptions } from "../../storage/sqlite.ts";
import init from "./migrations/sqlite_001_init.sql" with { type: "text" };
import listIndexes from "./migrations/sqlite_002_list_indexes.sql" with { type: "text" };
import type { CreateTask, Task, TaskFilter, TaskMatch, UpdateTask } from "../../domain/tasks/model.ts";
import type { TaskStore } from "./store.ts";

const COLUMNS = "id, title, description, priority, status, user_id, project_id, process_instance_id, step_id, created_at, updated_at";
const PAGE = 500;

export const TASK_SQLITE_MIGRATIONS = [
  { id: "001_init", sql: init },
  { id: "002_list_indexes", sql: listIndexes },
];

/**
 * The WHERE clause of a list or count. The partial indexes' own predicates are repeated, so the
 * planner can prove a bound parameter falls inside them.
 */
function where(filter: TaskMatch): { sql: string; params: Record<string, string | number> } {
  const parts: string[] = [];
  const params: Record<string, string | number> = {};
  if (filter.user_id !== undefined) (parts.push("user_id = $user_id"), (params.user_id = filter.user_id));
  if (filter.status !== undefined) (parts.push("status = $status"), (params.status = filter.status));
  if (filter.process_instance_id) (parts.push("process_instance_id = $pid AND process_instance_id <> ''"), (params.pid = filter.process_instance_id));
  if (filter.project_id) (parts.push("project_id = $project AND project_id <> 0"), (params.project = filter.project_id));
  return { sql: parts.length ? `WHERE ${parts.join(" AND ")}` : "", params };
}

/** One page of a list: matches after `afterId` in id order, skipping `skip` (the offset path) first. */
export function taskPageQuery(filter: TaskMatch, afterId: number, size: number, skip: number): { sql: string; params: Record<string, string | number> } {
  const w = where(filter);
  const cond = w.sql ? `${w.sql} AND id > $after` : "WHERE id > $after";
  const params: Record<string, string | number> = { ...w.params, after: afterId, size };
  if (skip > 0) params.skip = skip;
  return { sql: `SELECT ${COLUMNS} FROM tasks ${cond} ORDER BY id LIMIT $size${skip > 0 ? " OFFSET $skip" : ""}`, params };
}

export class SqliteTaskStore implements TaskStore {
  private readonly db: Database;
  private readonly byId;
  private readonly byKey;
  private readonly insert;
  private readonly remove;

  constructor(path: string, opts: SqliteOptions) {
    this.db = openSqlite(path, opts, TASK_SQLITE_MIGRATIONS);
    this.byId = this.db.query<Task, [number]>(`SELECT ${COLUMNS} FROM tasks WHERE id = ?`);
    this.byKey = this.db.query<Task, [string]>(`SELECT ${COLUMNS} FROM tasks WHERE idempotency_key = ?`);
    this.insert = this.db.query<Task, Record<string, string | number | null>>(
      `INSERT INTO tasks (title, description, priority, status, user_id, project_id, process_instance_id, step_id, idempotency_key, created_at, updated_at)
       VALUES ($title, $description, $priority, $status, $user_id, $project_id, $process_instance_id, $step_id, $idempotency_key, $now, $now)
       RETURNING ${COLUMNS}`,
    );
    this.remove = this.db.query<Task, [number]>(`DELETE FROM tasks WHERE id = ? RETURNING ${COLUMNS}`);
  }

  async create(input: CreateTask, now: string): Promise<{ task: Task; created: boolean }> {
    return this.db.transaction(() => {
      if (input.idempotency_key) {
        const existing = this.byKey.get(input.idempotency_key);
        if (existing) return { task: existing, created: false };
      }
      const task = this.insert.get({
        title: input.title,
        description: input.description,
        priority: input.priority,
        status: input.status,
        user_id: input.user_id,
        project_id: input.project_id,
        process_instance_id: input.process_instance_id,
        step_id: input.step_id,
        idempotency_key: input.idempotency_key ?? null,
        now,
      })!;
      return { task, created: true };
    }).immediate();
  }

  async get(id: number): Promise<Task | undefined> {
    return this.byId.get(id) ?? undefined;
  }

  async update(id: number, patch: UpdateTask, now: string): Promise<Task | undefined> {
    const sets: string[] = [];
    const params: Record<string, string | number> = { id, now };
    for (const key of ["title", "description", "priority", "status", "user_id"] as const) {
      if (patch[key] !== undefined) {
        sets.push(`${key} = $${key}`);
        params[key] = patch[key]!;
      }
    }
    sets.push("updated_at = $now");
    return this.db.query<Task, Record<string, string | number>>(`UPDATE tasks SET ${sets.join(", ")} WHERE id = $id RETURNING ${COLUMNS}`).get(params) ?? undefined;
  }

  async delete(id: number): Promise<Task | undefined> {
    return this.remove.get(id) ?? undefined;
  }

  async *list(filter: TaskFilter): AsyncIterable<Task> {
    let remaining = filter.limit ?? Number.POSITIVE_INFINITY;
    let afterId = filter.after_id ?? 0;
    let skip = filter.offset;
    // keyset pagination after the first page keeps a 10k-row stream O(n)
    while (remaining > 0) {
      const size = Math.min(PAGE, remaining);
      const q = taskPageQuery(filter, afterId, size, skip);
      const rows = this.db.query<Task, Record<string, string | number>>(q.sql).all(q.params);
      skip = 0;
      for (const row of rows) yield row;
      if (rows.length < size) return;
      remaining -= rows.length;
      afterId = rows[rows.length - 1]!.id;
    }
  }

  async count(filter: TaskMatch, upTo?: number): Promise<number> {
    const w = where(filter);
    if (upTo === undefined) return this.db.query<{ n: number }, Record<string, string | number>>(`SELECT COUNT(*) AS n FROM tasks ${w.sql}`).get(w.params)!.n;
    // one probe at the bound decides "more than upTo" (stepping over index entries, 3× cheaper than counting them); else count
    const q = this.db.query<{ n: number }, Record<string, string | number>>(
      `SELECT CASE WHEN EXISTS (SELECT 1 FROM tasks ${w.sql} LIMIT 1 OFFSET $probe) THEN $up_to ELSE (SELECT COUNT(*) FROM tasks ${w.sql}) END AS n`,
    );
    return q.get({ ...w.params, probe: upTo - 1, up_to: upTo })!.n;
  }

  async ping(): Promise<void> {
    this.db.query("SELECT 1").get();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
