import type { Database } from "bun:sqlite";
import {
  isSameProcessDefinition,
  parseInstance,
  type Effect,
  type ProcessDefinition,
  type ProcessInstance,
  type StoredProcessDefinition,
} from "../../domain/process/index.ts";
import { nextVersion } from "../../domain/forms/index.ts";
import { openSqlite, type SqliteOptions } from "../../storage/sqlite.ts";
import init from "./migrations/sqlite_001_init.sql" with { type: "text" };
import type { DefinitionFilter, InstanceFilter, InstanceMatch, OutboxRecord, OutboxState } from "./model.ts";
import type { ProcessStore } from "./store.ts";
import { toDefinition, toRecord, type DefinitionRow, type OutboxRow } from "./store-rows.ts";


type Params = Record<string, string | number | null>;

const DEF_COLUMNS = "key, version, body, created_at";
const OUTBOX_COLUMNS = "seq, instance_id, payload, attempts, next_attempt_at, last_error, traceparent, created_at";
/** The first pending record of its instance: later ones wait for it (delivery in order per instance). */
const IS_HEAD = "o.seq = (SELECT MIN(p.seq) FROM outbox p WHERE p.instance_id = o.instance_id AND p.state = 'pending')";


function instanceWhere(filter: InstanceMatch): { sql: string; params: Params } {
  const parts: string[] = [];
  const params: Params = {};
  if (filter.definition_key !== undefined) (parts.push("definition_key = $definition_key"), (params.definition_key = filter.definition_key));
  if (filter.status !== undefined) (parts.push("status = $status"), (params.status = filter.status));
  if (filter.started_by !== undefined) (parts.push("started_by = $started_by"), (params.started_by = filter.started_by));
  // the partial index's own predicate, so the planner can use it for a bound parameter
  if (filter.assignee !== undefined) (parts.push("current_assignee = $assignee AND current_assignee IS NOT NULL"), (params.assignee = filter.assignee));
  return { sql: parts.length ? `WHERE ${parts.join(" AND ")}` : "", params };
}

/** A page of instances, newest first: ids are UUIDv7, so id order is creation order. */
export function instancePageQuery(filter: InstanceFilter): { sql: string; params: Params } {
  const w = instanceWhere(filter);
  const parts = w.sql ? [w.sql] : [];
  const params: Params = { ...w.params, limit: filter.limit };
  if (filter.before_id !== undefined) (parts.push(`${w.sql ? "AND" : "WHERE"} id < $before`), (params.before = filter.before_id));
  if (filter.offset > 0) params.offset = filter.offset;
  return { sql: `SELECT body FROM instances ${parts.join(" ")} ORDER BY id DESC LIMIT $limit${filter.offset > 0 ? " OFFSET $offset" : ""}`, params };
}

export class SqliteProcessStore implements ProcessStore {
  private readonly db: Database;
  private readonly latestDef;
  private readonly exactDef;
  private readonly insertDef;
  private readonly instanceById;
  private readonly instanceByKey;
  private readonly insertInstanceRow;
  private readonly casInstance;
  private readonly insertOutbox;
  private readonly due;
  private readonly dueAt;
  private readonly delivered;
  private readonly retry;
  private readonly dead;
  private readonly stateByKey;
  private readonly insertRef;
  private readonly refByKey;

  constructor(path: string, opts: SqliteOptions) {
    this.db = openSqlite(path, opts, [{ id: "001_init", sql: init }]);
    this.latestDef = this.db.query<DefinitionRow, [string]>(`SELECT ${DEF_COLUMNS} FROM definitions WHERE key = ? ORDER BY version DESC LIMIT 1`);
    this.exactDef = this.db.query<DefinitionRow, [string, number]>(`SELECT ${DEF_COLUMNS} FROM definitions WHERE key = ? AND version = ?`);
    this.insertDef = this.db.query<DefinitionRow, Params>(
      `INSERT INTO definitions (key, version, name, body, created_at) VALUES ($key, $version, $name, $body, $now) RETURNING ${DEF_COLUMNS}`,
    );
    this.instanceById = this.db.query<{ body: string }, [string]>("SELECT body FROM instances WHERE id = ?");
    this.instanceByKey = this.db.query<{ body: string }, [string]>("SELECT body FROM instances WHERE idempotency_key = ?");
    this.insertInstanceRow = this.db.query<never, Params>(
      `INSERT INTO instances (id, definition_key, definition_version, status, current_step, current_assignee, started_by, revision, body, idempotency_key, created_at, updated_at)
       VALUES ($id, $definition_key, $definition_version, $status, $current_step, $current_assignee, $started_by, $revision, $body, $idempotency_key, $created_at, $updated_at)`,
    );
    this.casInstance = this.db.query<never, Params>(
      `UPDATE instances SET status = $status, current_step = $current_step, current_assignee = $current_assignee, revision = $revision, body = $body, updated_at = $updated_at
       WHERE id = $id AND revision = $expected`,
    );
    this.insertOutbox = this.db.query<never, Params>(
      `INSERT INTO outbox (instance_id, effect_key, kind, payload, next_attempt_at, traceparent, created_at)
       VALUES ($instance_id, $effect_key, $kind, $payload, $now, $traceparent, $now)`,
    );
    this.due = this.db.query<OutboxRow, [number, number]>(
      `SELECT ${OUTBOX_COLUMNS} FROM outbox o WHERE o.state = 'pending' AND o.next_attempt_at <= ? AND ${IS_HEAD} ORDER BY o.next_attempt_at, o.seq LIMIT ?`,
    );
    this.dueAt = this.db.query<{ at: number | null }, []>(`SELECT MIN(o.next_attempt_at) AS at FROM outbox o WHERE o.state = 'pending' AND ${IS_HEAD}`);
    this.delivered = this.db.query<never, [number, number]>("UPDATE outbox SET state = 'delivered', done_at = ?, last_error = NULL WHERE seq = ? AND state = 'pending'");
    this.retry = this.db.query<never, [number, number, string, number]>("UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE seq = ? AND state = 'pending'");
    this.dead = this.db.query<never, [number, string, number]>("UPDATE outbox SET state = 'dead', done_at = ?, last_error = ? WHERE seq = ? AND state = 'pending'");
    this.stateByKey = this.db.query<{ state: OutboxState }, [string]>("SELECT state FROM outbox WHERE effect_key = ?");
    this.insertRef = this.db.query<never, [string, number]>("INSERT OR REPLACE INTO task_refs (task_key, task_id) VALUES (?, ?)");
    this.refByKey = this.db.query<{ task_id: number }, [string]>("SELECT task_id FROM task_refs WHERE task_key = ?");
  }

  async deploy(def: ProcessDefinition, now: string): Promise<{ definition: StoredProcessDefinition; created: boolean }> {
    return this.db.transaction(() => {
      const row = this.latestDef.get(def.key);
      const latest = row ? toDefinition(row) : undefined;
      const decision = nextVersion(latest, def, isSameProcessDefinition);
      if (!decision.created) return { definition: latest!, created: false };
      const body = JSON.stringify({ key: def.key, name: def.name, steps: def.steps, end_states: def.end_states });
      const inserted = this.insertDef.get({ key: def.key, version: decision.version, name: def.name, body, now })!;
      return { definition: toDefinition(inserted), created: true };
    }).immediate();
  }

  async getDefinition(key: string, version: number): Promise<StoredProcessDefinition | undefined> {
    const row = version > 0 ? this.exactDef.get(key, version) : this.latestDef.get(key);
    return row ? toDefinition(row) : undefined;
  }

  async listDefinitions(filter: DefinitionFilter): Promise<StoredProcessDefinition[]> {
    const rows = filter.key !== undefined
      ? this.db.query<DefinitionRow, [string, number, number]>(`SELECT ${DEF_COLUMNS} FROM definitions WHERE key = ? ORDER BY version DESC LIMIT ? OFFSET ?`).all(filter.key, filter.limit, filter.offset)
      : this.db
          .query<DefinitionRow, [number, number]>(`SELECT ${DEF_COLUMNS} FROM definitions d WHERE version = (SELECT MAX(version) FROM definitions WHERE key = d.key) ORDER BY key LIMIT ? OFFSET ?`)
          .all(filter.limit, filter.offset);
    return rows.map(toDefinition);
  }

  async countDefinitions(filter: Omit<DefinitionFilter, "limit" | "offset">): Promise<number> {
    const row = filter.key !== undefined
      ? this.db.query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM definitions WHERE key = ?").get(filter.key)
      : this.db.query<{ n: number }, []>("SELECT COUNT(DISTINCT key) AS n FROM definitions").get();
    return row!.n;
  }

  async createInstance(instance: ProcessInstance, effects: readonly Effect[], opts: { idempotencyKey?: string; traceparent?: string; now: number }): Promise<{ instance: ProcessInstance; created: boolean }> {
    return this.db.transaction(() => {
      if (opts.idempotencyKey) {
        const existing = this.instanceByKey.get(opts.idempotencyKey);
        if (existing) return { instance: parseInstance(JSON.parse(existing.body)), created: false };
      }
      this.insertInstanceRow.run({
        ...this.columns(instance),
        definition_key: instance.definition_key,
        definition_version: instance.definition_version,
        started_by: instance.started_by,
        idempotency_key: opts.idempotencyKey ?? null,
        created_at: instance.created_at,
      });
      this.queue(instance.id, effects, opts);
      return { instance, created: true };
    }).immediate();
  }

  async getInstance(id: string): Promise<ProcessInstance | undefined> {
    const row = this.instanceById.get(id);
    return row ? parseInstance(JSON.parse(row.body)) : undefined;
  }

  async updateInstance(instance: ProcessInstance, expectedRevision: number, effects: readonly Effect[], opts: { traceparent?: string; now: number }): Promise<boolean> {
    return this.db.transaction(() => {
      const changed = this.casInstance.run({ ...this.columns(instance), expected: expectedRevision }).changes;
      if (changed !== 1) return false;
      this.queue(instance.id, effects, opts);
      return true;
    }).immediate();
  }

  async listInstances(filter: InstanceFilter): Promise<ProcessInstance[]> {
    const q = instancePageQuery(filter);
    return this.db.query<{ body: string }, Params>(q.sql).all(q.params).map((r) => parseInstance(JSON.parse(r.body)));
  }

  async countInstances(filter: InstanceMatch, upTo?: number): Promise<number> {
    const w = instanceWhere(filter);
    if (upTo === undefined) return this.db.query<{ n: number }, Params>(`SELECT COUNT(*) AS n FROM instances ${w.sql}`).get(w.params)!.n;
    // one probe at the bound decides "more than upTo"; else count (at most upTo entries)
    const q = this.db.query<{ n: number }, Params>(`SELECT CASE WHEN EXISTS (SELECT 1 FROM instances ${w.sql} LIMIT 1 OFFSET $probe) THEN $up_to ELSE (SELECT COUNT(*) FROM instances ${w.sql}) END AS n`);
    return q.get({ ...w.params, probe: upTo - 1, up_to: upTo })!.n;
  }

  async dueOutbox(now: number, limit: number, busyInstances: ReadonlySet<string>): Promise<OutboxRecord[]> {
    const rows = this.due.all(now, limit + busyInstances.size);
    const out: OutboxRecord[] = [];
    for (const r of rows) {
      if (busyInstances.has(r.instance_id)) continue;
      out.push(toRecord(r));
      if (out.length === limit) break;
    }
    return out;
  }

  async nextOutboxDueAt(): Promise<number | undefined> {
    return this.dueAt.get()?.at ?? undefined;
  }

  async markDelivered(seq: number, now: number, taskRef?: { taskKey: string; taskId: number }): Promise<void> {
    this.db.transaction(() => {
      if (taskRef) this.insertRef.run(taskRef.taskKey, taskRef.taskId);
      this.delivered.run(now, seq);
    }).immediate();
  }

  async markRetry(seq: number, attempts: number, nextAttemptAt: number, error: string): Promise<void> {
    this.retry.run(attempts, nextAttemptAt, error.slice(0, 1_000), seq);
  }

  async markDead(seq: number, now: number, error: string): Promise<void> {
    this.dead.run(now, error.slice(0, 1_000), seq);
  }

  async outboxState(effectKey: string): Promise<OutboxState | undefined> {
    return this.stateByKey.get(effectKey)?.state;
  }

  async taskIdFor(taskKey: string): Promise<number | undefined> {
    return this.refByKey.get(taskKey)?.task_id;
  }

  async outboxCounts(): Promise<{ pending: number; dead: number; oldestCreatedAtMs?: number }> {
    const row = this.db
      .query<{ pending: number; dead: number; oldest: number | null }, []>(
        `SELECT (SELECT COUNT(*) FROM outbox WHERE state = 'pending') AS pending,
                (SELECT COUNT(*) FROM outbox WHERE state = 'dead') AS dead,
                (SELECT MIN(created_at) FROM outbox WHERE state = 'pending') AS oldest`,
      )
      .get()!;
    return { pending: row.pending, dead: row.dead, ...(row.oldest !== null ? { oldestCreatedAtMs: row.oldest } : {}) };
  }

  async pruneOutbox(before: number): Promise<number> {
    return this.db.query<never, [number]>("DELETE FROM outbox WHERE state = 'delivered' AND done_at < ?").run(before).changes;
  }

  async ping(): Promise<void> {
    this.db.query("SELECT 1").get();
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private columns(instance: ProcessInstance): Params {
    return {
      id: instance.id,
      status: instance.status,
      current_step: instance.current_step,
      current_assignee: instance.current_assignee,
      revision: instance.revision,
      body: JSON.stringify(instance),
      updated_at: instance.updated_at,
    };
  }

  private queue(instanceId: string, effects: readonly Effect[], opts: { traceparent?: string; now: number }): void {
    for (const effect of effects) {
      this.insertOutbox.run({ instance_id: instanceId, effect_key: effect.idempotencyKey, kind: effect.kind, payload: JSON.stringify(effect), now: opts.now, traceparent: opts.traceparent ?? null });
    }
  }
}
