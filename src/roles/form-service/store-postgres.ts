import { isSameDefinition, nextVersion, type FormDefinition, type StoredFormDefinition } from "../../domain/forms/index.ts";
import type { Logger } from "../../platform/logger.ts";
import { advisoryKey, mapDatabaseError, openPostgres, type PostgresDb } from "../../storage/postgres.ts";
import init from "./migrations/postgres_001_init.sql" with { type: "text" };
import type { FormFilter, NewSubmission, Submission } from "./model.ts";
import { type FormRow, type SubmissionRow, toForm, toSubmission } from "./store-rows.ts";
import type { FormStore } from "./store.ts";

export const FORM_MIGRATIONS = { namespace: "form-service", migrations: [{ id: "001_init", sql: init }] };

/** First advisory-lock key of form publishes; the second is the form key's hash. */
const PUBLISH_LOCK = advisoryKey("form-service publish");
// timestamps leave the database as the same ISO-8601 strings SQLite stores
const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${col}`;
const FORM_COLUMNS = `key, version, title, fields, ${iso("created_at")}`;
const SUBMISSION_COLUMNS = `id, form_key, form_version, data, submitted_by, process_instance_id, step_id, ${iso("created_at")}`;

const LATEST = `SELECT ${FORM_COLUMNS} FROM forms WHERE key = $1 ORDER BY version DESC LIMIT 1`;
const EXACT = `SELECT ${FORM_COLUMNS} FROM forms WHERE key = $1 AND version = $2`;
const INSERT_FORM = `INSERT INTO forms (key, version, title, fields, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING ${FORM_COLUMNS}`;
const INSERT_SUBMISSION = `INSERT INTO form_submissions (id, form_key, form_version, data, submitted_by, process_instance_id, step_id, idempotency_key, created_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (idempotency_key) DO NOTHING RETURNING ${SUBMISSION_COLUMNS}`;
const SUBMISSION_BY_ID = `SELECT ${SUBMISSION_COLUMNS} FROM form_submissions WHERE id = $1`;
const SUBMISSION_BY_KEY = `SELECT ${SUBMISSION_COLUMNS} FROM form_submissions WHERE idempotency_key = $1`;



/** Forms and submissions in PostgreSQL, shared by any number of form-service replicas. */
export class PostgresFormStore implements FormStore {
  private constructor(private readonly db: PostgresDb) {}

  static async open(url: string, log: Logger, opts: { maxConnections?: number } = {}): Promise<PostgresFormStore> {
    const db = await openPostgres(url, { name: "bpm-form-service", migrations: [FORM_MIGRATIONS], maxConnections: opts.maxConnections, log });
    return new PostgresFormStore(db);
  }

  async publish(def: FormDefinition, now: string): Promise<{ form: StoredFormDefinition; created: boolean }> {
    return this.db.transaction(async (tx) => {
      // replicas publishing one key at once take turns, so each change gets its own version
      await tx.unsafe("SELECT pg_advisory_xact_lock($1, $2)", [PUBLISH_LOCK, advisoryKey(def.key)]);
      const [row] = (await tx.unsafe(LATEST, [def.key])) as FormRow[];
      const latest = row ? toForm(row) : undefined;
      const decision = nextVersion(latest, def, isSameDefinition);
      if (!decision.created) return { form: latest!, created: false };
      const [inserted] = (await tx.unsafe(INSERT_FORM, [def.key, decision.version, def.title, JSON.stringify(def.fields), now])) as FormRow[];
      return { form: toForm(inserted!), created: true };
    });
  }

  async get(key: string, version: number): Promise<StoredFormDefinition | undefined> {
    const [row] = version > 0 ? await this.run<FormRow>(EXACT, [key, version]) : await this.run<FormRow>(LATEST, [key]);
    return row ? toForm(row) : undefined;
  }

  async list(filter: FormFilter): Promise<StoredFormDefinition[]> {
    const rows = filter.key !== undefined
      ? await this.run<FormRow>(`SELECT ${FORM_COLUMNS} FROM forms WHERE key = $1 ORDER BY version DESC LIMIT $2 OFFSET $3`, [filter.key, filter.limit, filter.offset])
      : await this.run<FormRow>(`SELECT DISTINCT ON (key) ${FORM_COLUMNS} FROM forms ORDER BY key, version DESC LIMIT $1 OFFSET $2`, [filter.limit, filter.offset]);
    return rows.map(toForm);
  }

  async count(filter: Omit<FormFilter, "limit" | "offset">): Promise<number> {
    const [row] = filter.key !== undefined
      ? await this.run<{ n: number }>("SELECT COUNT(*)::int AS n FROM forms WHERE key = $1", [filter.key])
      : await this.run<{ n: number }>("SELECT COUNT(DISTINCT key)::int AS n FROM forms", []);
    return row!.n;
  }

  async submit(input: NewSubmission, id: string, now: string): Promise<{ submission: Submission; created: boolean }> {
    const key = input.idempotency_key || null;
    const params = [id, input.form_key, input.form_version, JSON.stringify(input.data), input.submitted_by, input.process_instance_id, input.step_id, key, now];
    const [row] = await this.run<SubmissionRow>(INSERT_SUBMISSION, params);
    if (row) return { submission: toSubmission(row), created: true };
    const [existing] = await this.run<SubmissionRow>(SUBMISSION_BY_KEY, [key]);
    if (!existing) throw new Error(`submission with idempotency key ${key} was neither inserted nor found`);
    return { submission: toSubmission(existing), created: false };
  }

  async getSubmission(id: string): Promise<Submission | undefined> {
    const [row] = await this.run<SubmissionRow>(SUBMISSION_BY_ID, [id]);
    return row ? toSubmission(row) : undefined;
  }

  ping(): Promise<void> {
    return this.db.ping();
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private async run<T>(text: string, params: unknown[]): Promise<T[]> {
    try {
      return (await this.db.sql.unsafe(text, params)) as T[];
    } catch (err) {
      mapDatabaseError(err, this.db.where);
    }
  }
}
