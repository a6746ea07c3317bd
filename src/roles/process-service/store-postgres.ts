import { nextVersion } from "../../domain/forms/index.ts";
import {
  isSameProcessDefinition,
  parseInstance,
  type Effect,
  type ProcessDefinition,
  type ProcessInstance,
  type StoredProcessDefinition,
} from "../../domain/process/index.ts";
import type { Logger } from "../../platform/logger.ts";
import { advisoryKey, mapDatabaseError, openPostgres, type PostgresDb, type SQL } from "../../storage/postgres.ts";
import init from "./migrations/postgres_001_init.sql" with { type: "text" };
import listIndexes from "./migrations/postgres_002_list_indexes.sql" with { type: "text" };
import type { DefinitionFilter, InstanceFilter, InstanceMatch, OutboxRecord, OutboxState } from "./model.ts";
import type { ProcessStore } from "./store.ts";
import { toDefinition, toRecord, type DefinitionRow, type OutboxRow } from "./store-rows.ts";

export const PROCESS_MIGRATIONS = {
  namespace: "process-service",
  migrations: [
    { id: "001_init", sql: init },
    { id: "002_list_indexes", sql: listIndexes },
  ],
};

/** First advisory-lock key of deploys; the second is the process key's hash. */
const DEPLOY_LOCK = advisoryKey("process-service deploy");
const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${col}`;
const DEF_COLUMNS = `key, version, body, ${iso("created_at")}`;
// BIGINT comes back as text from the driver; epoch ms and seq fit a double exactly
const OUTBOX_COLUMNS = "o.seq::float8 AS seq, o.instance_id, o.payload, o.attempts, o.next_attempt_at::float8 AS next_attempt_at, o.last_error, o.traceparent, o.created_at::float8 AS created_at";
/** The first pending record of its instance: later ones wait for it (delivery in order per instance). */
const IS_HEAD = "o.seq = (SELECT MIN(p.seq) FROM process_outbox p WHERE p.instance_id = o.instance_id AND p.state = 'pending')";

const LATEST_DEF = `SELECT ${DEF_COLUMNS} FROM process_definitions WHERE key = $1 ORDER BY version DESC LIMIT 1`;
const EXACT_DEF = `SELECT ${DEF_COLUMNS} FROM process_definitions WHERE key = $1 AND version = $2`;
const INSERT_DEF = `INSERT INTO process_definitions (key, version, name, body, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING ${DEF_COLUMNS}`;
const INSERT_INSTANCE = `INSERT INTO process_instances
  (id, definition_key, definition_version, status, current_step, current_assignee, started_by, revision, body, idempotency_key, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`;
const CAS_INSTANCE = `UPDATE process_instances SET status = $2, current_step = $3, current_assignee = $4, revision = $5, body = $6, updated_at = $7
  WHERE id = $1 AND revision = $8 RETURNING id`;
const INSERT_OUTBOX = `INSERT INTO process_outbox (instance_id, effect_key, kind, payload, next_attempt_at, traceparent, created_at) VALUES ($1, $2, $3, $4, $5, $6, $5)`;
/** Claims the due heads (skipping rows another replica is claiming right now) until $4. */
const CLAIM_DUE = `WITH due AS (
    SELECT o.seq FROM process_outbox o
    WHERE o.state = 'pending' AND o.next_attempt_at <= $1 AND o.claimed_until <= $1 AND ${IS_HEAD}
      AND o.instance_id NOT IN (SELECT jsonb_array_elements_text(($3::text)::jsonb))
    ORDER BY o.next_attempt_at, o.seq LIMIT $2
    FOR UPDATE SKIP LOCKED)
  UPDATE process_outbox o SET claimed_until = $4 FROM due WHERE o.seq = due.seq
  RETURNING ${OUTBOX_COLUMNS}`;


const toInstance = (r: { body: string }): ProcessInstance => parseInstance(JSON.parse(r.body));

function instanceWhere(filter: InstanceMatch, params: unknown[]): string {
  return instanceConds(filter, params).map((c, i) => (i === 0 ? `WHERE ${c}` : `AND ${c}`)).join(" ");
}

function instanceConds(filter: InstanceMatch, params: unknown[]): string[] {
  const parts: string[] = [];
  if (filter.definition_key !== undefined) parts.push(`definition_key = $${params.push(filter.definition_key)}`);
  if (filter.status !== undefined) parts.push(`status = $${params.push(filter.status)}`);
  if (filter.started_by !== undefined) parts.push(`started_by = $${params.push(filter.started_by)}`);
  // the partial index's own predicate, so a generic plan can use it
  if (filter.assignee !== undefined) parts.push(`current_assignee = $${params.push(filter.assignee)} AND current_assignee IS NOT NULL`);
  return parts;
}

/** A page of instances, newest first: ids are UUIDv7, so in byte order (COLLATE "C") they are in creation order. */
export function instancePageQuery(filter: InstanceFilter): { text: string; params: unknown[] } {
  const params: unknown[] = [];
  const conds = instanceConds(filter, params);
  if (filter.before_id !== undefined) conds.push(`id COLLATE "C" < $${params.push(filter.before_id)}`);
  let text = `SELECT body FROM process_instances ${conds.length ? `WHERE ${conds.join(" AND ")}` : ""} ORDER BY id COLLATE "C" DESC LIMIT $${params.push(filter.limit)}`;
  if (filter.offset > 0) text += ` OFFSET $${params.push(filter.offset)}`;
  return { text, params };
}

export interface PostgresProcessStoreOptions {
  maxConnections?: number;
  /** How long a replica holds the records it is delivering; another may take them after that. Default 30 s. */
  claimMs?: number;
}

/** Definitions, instances and the outbox in PostgreSQL, shared by any number of process-service replicas. */
export class PostgresProcessStore implements ProcessStore {
  private readonly claimMs: number;

  private constructor(private readonly db: PostgresDb, opts: PostgresProcessStoreOptions) {
    this.claimMs = opts.claimMs ?? 30_000;
  }

  static async open(url: string, log: Logger, opts: PostgresProcessStoreOptions = {}): Promise<PostgresProcessStore> {
    const db = await openPostgres(url, { name: "bpm-process-service", migrations: [PROCESS_MIGRATIONS], maxConnections: opts.maxConnections, log });
    return new PostgresProcessStore(db, opts);
  }

  async deploy(def: ProcessDefinition, now: string): Promise<{ definition: StoredProcessDefinition; created: boolean }> {
    return this.db.transaction(async (tx) => {
      // replicas deploying one key at once take turns, so each change gets its own version
      await tx.unsafe("SELECT pg_advisory_xact_lock($1, $2)", [DEPLOY_LOCK, advisoryKey(def.key)]);
      const [row] = (await tx.unsafe(LATEST_DEF, [def.key])) as DefinitionRow[];
      const latest = row ? toDefinition(row) : undefined;
      const decision = nextVersion(latest, def, isSameProcessDefinition);
      if (!decision.created) return { definition: latest!, created: false };
      const body = JSON.stringify({ key: def.key, name: def.name, steps: def.steps, end_states: def.end_states });
      const [inserted] = (await tx.unsafe(INSERT_DEF, [def.key, decision.version, def.name, body, now])) as DefinitionRow[];
      return { definition: toDefinition(inserted!), created: true };
    });
  }

  async getDefinition(key: string, version: number): Promise<StoredProcessDefinition | undefined> {
    const [row] = version > 0 ? await this.run<DefinitionRow>(EXACT_DEF, [key, version]) : await this.run<DefinitionRow>(LATEST_DEF, [key]);
    return row ? toDefinition(row) : undefined;
  }

  async listDefinitions(filter: DefinitionFilter): Promise<StoredProcessDefinition[]> {
    const rows = filter.key !== undefined
      ? await this.run<DefinitionRow>(`SELECT ${DEF_COLUMNS} FROM process_definitions WHERE key = $1 ORDER BY version DESC LIMIT $2 OFFSET $3`, [filter.key, filter.limit, filter.offset])
      : await this.run<DefinitionRow>(`SELECT DISTINCT ON (key) ${DEF_COLUMNS} FROM process_definitions ORDER BY key, version DESC LIMIT $1 OFFSET $2`, [filter.limit, filter.offset]);
    return rows.map(toDefinition);
  }

  async countDefinitions(filter: Omit<DefinitionFilter, "limit" | "offset">): Promise<number> {
    const [row] = filter.key !== undefined
      ? await this.run<{ n: number }>("SELECT COUNT(*)::int AS n FROM process_definitions WHERE key = $1", [filter.key])
      : await this.run<{ n: number }>("SELECT COUNT(DISTINCT key)::int AS n FROM process_definitions", []);
    return row!.n;
  }

  async createInstance(instance: ProcessInstance, effects: readonly Effect[], opts: { idempotencyKey?: string; traceparent?: string; now: number }): Promise<{ instance: ProcessInstance; created: boolean }> {
    return this.db.transaction(async (tx) => {
      const inserted = await tx.unsafe(INSERT_INSTANCE, [
        instance.id, instance.definition_key, instance.definition_version, instance.status, instance.current_step, instance.current_assignee,
        instance.started_by, instance.revision, JSON.stringify(instance), opts.idempotencyKey ?? null, instance.created_at, instance.updated_at,
      ]);
      if (inserted.length === 0) {
        const [existing] = (await tx.unsafe("SELECT body FROM process_instances WHERE idempotency_key = $1", [opts.idempotencyKey ?? null])) as { body: string }[];
        if (!existing) throw new Error(`instance with idempotency key ${opts.idempotencyKey} was neither inserted nor found`);
        return { instance: toInstance(existing), created: false };
      }
      await this.queue(tx, instance.id, effects, opts);
      return { instance, created: true };
    });
  }

  async getInstance(id: string): Promise<ProcessInstance | undefined> {
    const [row] = await this.run<{ body: string }>("SELECT body FROM process_instances WHERE id = $1", [id]);
    return row ? toInstance(row) : undefined;
  }

  async updateInstance(instance: ProcessInstance, expectedRevision: number, effects: readonly Effect[], opts: { traceparent?: string; now: number }): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const changed = await tx.unsafe(CAS_INSTANCE, [
        instance.id, instance.status, instance.current_step, instance.current_assignee, instance.revision, JSON.stringify(instance), instance.updated_at, expectedRevision,
      ]);
      if (changed.length !== 1) return false;
      await this.queue(tx, instance.id, effects, opts);
      return true;
    });
  }

  async listInstances(filter: InstanceFilter): Promise<ProcessInstance[]> {
    const q = instancePageQuery(filter);
    return (await this.run<{ body: string }>(q.text, q.params)).map(toInstance);
  }

  async countInstances(filter: InstanceMatch, upTo?: number): Promise<number> {
    const params: unknown[] = [];
    const where = instanceWhere(filter, params);
    const text = upTo === undefined
      ? `SELECT COUNT(*)::int AS n FROM process_instances ${where}`
      : `SELECT CASE WHEN EXISTS (SELECT 1 FROM process_instances ${where} OFFSET $${params.push(upTo - 1)} LIMIT 1) THEN $${params.push(upTo)}::int ELSE (SELECT COUNT(*)::int FROM process_instances ${where}) END AS n`;
    const [row] = await this.run<{ n: number }>(text, params);
    return row!.n;
  }

  async dueOutbox(now: number, limit: number, busyInstances: ReadonlySet<string>): Promise<OutboxRecord[]> {
    const rows = await this.run<OutboxRow>(CLAIM_DUE, [now, limit, JSON.stringify([...busyInstances]), now + this.claimMs]);
    return rows.map(toRecord).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.seq - b.seq);
  }

  async nextOutboxDueAt(): Promise<number | undefined> {
    const [row] = await this.run<{ at: number | null }>(
      `SELECT MIN(GREATEST(o.next_attempt_at, o.claimed_until))::float8 AS at FROM process_outbox o WHERE o.state = 'pending' AND ${IS_HEAD}`,
      [],
    );
    return row?.at ?? undefined;
  }

  async markDelivered(seq: number, now: number, taskRef?: { taskKey: string; taskId: number }): Promise<void> {
    await this.db.transaction(async (tx) => {
      if (taskRef) {
        await tx.unsafe("INSERT INTO process_task_refs (task_key, task_id) VALUES ($1, $2) ON CONFLICT (task_key) DO UPDATE SET task_id = EXCLUDED.task_id", [taskRef.taskKey, taskRef.taskId]);
      }
      await tx.unsafe("UPDATE process_outbox SET state = 'delivered', done_at = $1, last_error = NULL, claimed_until = 0 WHERE seq = $2 AND state = 'pending'", [now, seq]);
    });
  }

  async markRetry(seq: number, attempts: number, nextAttemptAt: number, error: string): Promise<void> {
    await this.run("UPDATE process_outbox SET attempts = $1, next_attempt_at = $2, last_error = $3, claimed_until = 0 WHERE seq = $4 AND state = 'pending'", [
      attempts, nextAttemptAt, error.slice(0, 1_000), seq,
    ]);
  }

  async markDead(seq: number, now: number, error: string): Promise<void> {
    await this.run("UPDATE process_outbox SET state = 'dead', done_at = $1, last_error = $2, claimed_until = 0 WHERE seq = $3 AND state = 'pending'", [now, error.slice(0, 1_000), seq]);
  }

  async outboxState(effectKey: string): Promise<OutboxState | undefined> {
    const [row] = await this.run<{ state: OutboxState }>("SELECT state FROM process_outbox WHERE effect_key = $1", [effectKey]);
    return row?.state;
  }

  async taskIdFor(taskKey: string): Promise<number | undefined> {
    const [row] = await this.run<{ task_id: number }>("SELECT task_id FROM process_task_refs WHERE task_key = $1", [taskKey]);
    return row?.task_id;
  }

  async outboxCounts(): Promise<{ pending: number; dead: number; oldestCreatedAtMs?: number }> {
    const [row] = await this.run<{ pending: number; dead: number; oldest: number | null }>(
      `SELECT COUNT(*) FILTER (WHERE state = 'pending')::int AS pending, COUNT(*) FILTER (WHERE state = 'dead')::int AS dead,
              MIN(created_at) FILTER (WHERE state = 'pending')::float8 AS oldest
       FROM process_outbox WHERE state <> 'delivered'`,
      [],
    );
    return { pending: row!.pending, dead: row!.dead, ...(row!.oldest !== null ? { oldestCreatedAtMs: row!.oldest } : {}) };
  }

  async pruneOutbox(before: number): Promise<number> {
    return (await this.run("DELETE FROM process_outbox WHERE state = 'delivered' AND done_at < $1 RETURNING seq", [before])).length;
  }

  ping(): Promise<void> {
    return this.db.ping();
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private async queue(tx: SQL, instanceId: string, effects: readonly Effect[], opts: { traceparent?: string; now: number }): Promise<void> {
    for (const effect of effects) {
      await tx.unsafe(INSERT_OUTBOX, [instanceId, effect.idempotencyKey, effect.kind, JSON.stringify(effect), opts.now, opts.traceparent ?? null]);
    }
  }

  private async run<T>(text: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.db.sql.unsafe(text, params)) as T[];
    } catch (err) {
      mapDatabaseError(err, this.db.where);
    }
  }
}
