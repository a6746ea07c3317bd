import type { Logger } from "../../platform/logger.ts";
import { EVENT_FEED_MIGRATIONS, PostgresEventFeed, type EventFeedStats } from "../../storage/postgres-feed.ts";
import { mapDatabaseError, openPostgres, type PostgresDb } from "../../storage/postgres.ts";
import init from "./migrations/postgres_001_init.sql" with { type: "text" };
import listIndexes from "./migrations/postgres_002_list_indexes.sql" with { type: "text" };
import type { CreateTask, Task, TaskEvent, TaskFilter, TaskMatch, UpdateTask } from "../../domain/tasks/model.ts";
import type { TaskStore } from "./store.ts";

/** NOTIFY channel (and bpm_events.channel) of task changes. */
export const TASK_EVENTS_CHANNEL = "bpm_task_events";
export const TASK_MIGRATIONS = { namespace: "task-service", migrations: [
    { id: "001_init", sql: init },
    { id: "002_list_indexes", sql: listIndexes },
  ],
};

const PAGE = 500;
const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${col}`;
// timestamps leave the database as the same ISO-8601 strings SQLite stores
const COLUMNS = `id, title, description, priority, status, user_id, project_id, process_instance_id, step_id, ${iso("created_at")}, ${iso("updated_at")}`;
/** The event as JSON built from the written row `r`, recorded in the write's own statement; returns its notice. */
const emit = (type: string, r: string, channel: string, ts: string) =>
  `bpm_emit(${channel}, json_build_object('event_type', '${type}', 'task', row_to_json(${r}), 'timestamp', ${ts}::text)::text)`;

// Every write is ONE statement: the row change and its event commit (or fail) together, in one round trip;
// the notice goes out after the commit (db.notify), so writers are not serialised by NOTIFY's lock.
// Statements are constant text with bound $n parameters (sql.unsafe here means "not a tagged template").
const INSERT = `WITH ins AS (
  INSERT INTO tasks (title, description, priority, status, user_id, project_id, process_instance_id, step_id, idempotency_key, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING ${COLUMNS})
SELECT ins.*, ${emit("created", "ins", "$11", "$12")} AS notice FROM ins`;
const UPDATE = `WITH upd AS (
  UPDATE tasks SET title = COALESCE($2, title), description = COALESCE($3, description), priority = COALESCE($4, priority),
    status = COALESCE($5, status), user_id = COALESCE($6, user_id), updated_at = $7
  WHERE id = $1
  RETURNING ${COLUMNS})
SELECT upd.*, ${emit("updated", "upd", "$8", "$9")} AS notice FROM upd`;
const DELETE = `WITH del AS (DELETE FROM tasks WHERE id = $1 RETURNING ${COLUMNS})
SELECT del.*, ${emit("deleted", "del", "$2", "$3")} AS notice FROM del`;
const BY_ID = `SELECT ${COLUMNS} FROM tasks WHERE id = $1`;
const BY_KEY = `SELECT ${COLUMNS} FROM tasks WHERE idempotency_key = $1`;

type Row = Task & { notice?: string };

function toTask(r: Row): Task {
  return {
    id: r.id,
    title: r.title,
    description: r.description,
    priority: r.priority,
    status: r.status,
    user_id: r.user_id,
    project_id: r.project_id,
    process_instance_id: r.process_instance_id,
    step_id: r.step_id,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

/** The partial indexes' own predicates are repeated, so a generic plan can prove a parameter falls inside them. */
function where(filter: TaskMatch, params: unknown[]): string[] {
  const parts: string[] = [];
  if (filter.user_id !== undefined) parts.push(`user_id = $${params.push(filter.user_id)}`);
  if (filter.status !== undefined) parts.push(`status = $${params.push(filter.status)}`);
  if (filter.process_instance_id) parts.push(`process_instance_id = $${params.push(filter.process_instance_id)} AND process_instance_id <> ''`);
  if (filter.project_id) parts.push(`project_id = $${params.push(filter.project_id)} AND project_id <> 0`);
  return parts;
}

/** One page of a list: matches after `afterId` in id order, skipping `skip` (the offset path) first. */
export function taskPageQuery(filter: TaskMatch, afterId: number, size: number, skip: number): { text: string; params: unknown[] } {
  const params: unknown[] = [];
  const conds = where(filter, params);
  conds.push(`id > $${params.push(afterId)}`);
  let text = `SELECT ${COLUMNS} FROM tasks WHERE ${conds.join(" AND ")} ORDER BY id LIMIT $${params.push(size)}`;
  if (skip > 0) text += ` OFFSET $${params.push(skip)}`;
  return { text, params };
}

/**
 * Notices of two replicas' writes can cross on the way; for one task the later write has the
 * higher seq (its row lock waited for the first commit), so an older event is stale and dropped.
 */
class NewestPerTask {
  private readonly seqs = new Map<number, number>();
  constructor(private readonly capacity = 100_000) {}

  isNewest(taskId: number, seq: number): boolean {
    const last = this.seqs.get(taskId);
    if (last !== undefined && last > seq) return false;
    this.seqs.delete(taskId);
    this.seqs.set(taskId, seq);
    if (this.seqs.size > this.capacity) this.seqs.delete(this.seqs.keys().next().value!);
    return true;
  }
}

export interface PostgresTaskStoreOptions {
  /** Receives the events of writes made by any replica (this one included), each once. */
  onEvent?: (e: TaskEvent) => void;
  maxConnections?: number;
  /** How long events are kept for replicas that reconnect. Default 10 min. */
  eventRetentionMs?: number;
  /** How often to look for events whose notice never came. Default 1 s; 0 disables. */
  eventSweepMs?: number;
}

/** Tasks in PostgreSQL, shared by any number of task-service replicas. */
export class PostgresTaskStore implements TaskStore {
  private constructor(
    private readonly db: PostgresDb,
    private readonly feed: PostgresEventFeed | undefined,
  ) {}

  static async open(url: string, log: Logger, opts: PostgresTaskStoreOptions = {}): Promise<PostgresTaskStore> {
    const db = await openPostgres(url, {
      name: "bpm-task-service",
      migrations: [EVENT_FEED_MIGRATIONS, TASK_MIGRATIONS],
      maxConnections: opts.maxConnections,
      log,
    });
    const onEvent = opts.onEvent;
    const latest = new NewestPerTask();
    let feed: PostgresEventFeed | undefined;
    if (onEvent) {
      try {
        feed = await PostgresEventFeed.open(db, {
          channel: TASK_EVENTS_CHANNEL,
          retentionMs: opts.eventRetentionMs,
          sweepEveryMs: opts.eventSweepMs,
          log,
          onEvent: (payload, seq) => {
            const e = JSON.parse(payload) as TaskEvent;
            if (latest.isNewest(e.task.id, seq)) onEvent(e);
          },
        });
      } catch (err) {
        await db.close();
        throw err;
      }
    }
    return new PostgresTaskStore(db, feed);
  }

  get eventStats(): EventFeedStats | undefined {
    return this.feed?.stats;
  }

  async create(input: CreateTask, now: string): Promise<{ task: Task; created: boolean }> {
    const params = [input.title, input.description, input.priority, input.status, input.user_id, input.project_id, input.process_instance_id, input.step_id];
    const key = input.idempotency_key ?? null;
    // a conflicting row can be deleted between the two statements; then the insert is tried again
    for (;;) {
      const [row] = await this.run<Row>(INSERT, [...params, key, now, TASK_EVENTS_CHANNEL, now]);
      if (row) return { task: this.announced(row), created: true };
      if (key === null) throw new Error("insert of a task without idempotency key returned no row");
      const [existing] = await this.run<Row>(BY_KEY, [key]);
      if (existing) return { task: toTask(existing), created: false };
    }
  }

  async get(id: number): Promise<Task | undefined> {
    const [row] = await this.run<Row>(BY_ID, [id]);
    return row && toTask(row);
  }

  async update(id: number, patch: UpdateTask, now: string): Promise<Task | undefined> {
    const p = [id, patch.title ?? null, patch.description ?? null, patch.priority ?? null, patch.status ?? null, patch.user_id ?? null, now, TASK_EVENTS_CHANNEL, now];
    const [row] = await this.run<Row>(UPDATE, p);
    return row && this.announced(row);
  }

  async delete(id: number): Promise<Task | undefined> {
    const [row] = await this.run<Row>(DELETE, [id, TASK_EVENTS_CHANNEL, new Date().toISOString()]);
    return row && this.announced(row);
  }

  async *list(filter: TaskFilter): AsyncIterable<Task> {
    let remaining = filter.limit ?? Number.POSITIVE_INFINITY;
    let afterId = filter.after_id ?? 0;
    let skip = filter.offset;
    // keyset pagination after the first page keeps a 10k-row stream O(n) and holds no connection between pages
    while (remaining > 0) {
      const size = Math.min(PAGE, remaining);
      const q = taskPageQuery(filter, afterId, size, skip);
      const rows = await this.run<Row>(q.text, q.params);
      skip = 0;
      for (const row of rows) yield toTask(row);
      if (rows.length < size) return;
      remaining -= rows.length;
      afterId = rows[rows.length - 1]!.id;
    }
  }

  async count(filter: TaskMatch, upTo?: number): Promise<number> {
    const params: unknown[] = [];
    const conds = where(filter, params);
    const cond = conds.length ? `WHERE ${conds.join(" AND ")}` : "";
    const text = upTo === undefined
      ? `SELECT COUNT(*)::int AS n FROM tasks ${cond}`
      : `SELECT CASE WHEN EXISTS (SELECT 1 FROM tasks ${cond} OFFSET $${params.push(upTo - 1)} LIMIT 1) THEN $${params.push(upTo)}::int ELSE (SELECT COUNT(*)::int FROM tasks ${cond}) END AS n`;
    const [row] = await this.run<{ n: number }>(text, params);
    return row!.n;
  }

  ping(): Promise<void> {
    return this.db.ping();
  }

  async close(): Promise<void> {
    await this.feed?.close();
    await this.db.close();
  }

  /** The write has committed: tell every replica (this one included). */
  private announced(row: Row): Task {
    if (row.notice) this.db.notify(TASK_EVENTS_CHANNEL, row.notice);
    return toTask(row);
  }

  private async run<T>(text: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.db.sql.unsafe(text, params)) as T[];
    } catch (err) {
      mapDatabaseError(err, this.db.where);
    }
  }
}

/** PostgreSQL task store for task-service (DATABASE_URL set). */
export function openPostgresTaskStore(url: string, log: Logger, opts: PostgresTaskStoreOptions = {}): Promise<PostgresTaskStore> {
  return PostgresTaskStore.open(url, log, opts);
}
