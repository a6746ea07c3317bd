import type { Database } from "bun:sqlite";
import { isSameDefinition, nextVersion, type FormDefinition, type StoredFormDefinition } from "../../domain/forms/index.ts";
import { openSqlite, type SqliteOptions } from "../../storage/sqlite.ts";
import init from "./migrations/sqlite_001_init.sql" with { type: "text" };
import type { FormFilter, NewSubmission, Submission } from "./model.ts";
import { type FormRow, type SubmissionRow, toForm, toSubmission } from "./store-rows.ts";
import type { FormStore } from "./store.ts";


const FORM_COLUMNS = "key, version, title, fields, created_at";
const SUBMISSION_COLUMNS = "id, form_key, form_version, data, submitted_by, process_instance_id, step_id, created_at";


export class SqliteFormStore implements FormStore {
  private readonly db: Database;
  private readonly latest;
  private readonly exact;
  private readonly insertForm;
  private readonly submissionById;
  private readonly submissionByKey;
  private readonly insertSubmission;

  constructor(path: string, opts: SqliteOptions) {
    this.db = openSqlite(path, opts, [{ id: "001_init", sql: init }]);
    this.latest = this.db.query<FormRow, [string]>(`SELECT ${FORM_COLUMNS} FROM forms WHERE key = ? ORDER BY version DESC LIMIT 1`);
    this.exact = this.db.query<FormRow, [string, number]>(`SELECT ${FORM_COLUMNS} FROM forms WHERE key = ? AND version = ?`);
    this.insertForm = this.db.query<FormRow, Record<string, string | number>>(
      `INSERT INTO forms (key, version, title, fields, created_at) VALUES ($key, $version, $title, $fields, $now) RETURNING ${FORM_COLUMNS}`,
    );
    this.submissionById = this.db.query<SubmissionRow, [string]>(`SELECT ${SUBMISSION_COLUMNS} FROM submissions WHERE id = ?`);
    this.submissionByKey = this.db.query<SubmissionRow, [string]>(`SELECT ${SUBMISSION_COLUMNS} FROM submissions WHERE idempotency_key = ?`);
    this.insertSubmission = this.db.query<SubmissionRow, Record<string, string | number | null>>(
      `INSERT INTO submissions (id, form_key, form_version, data, submitted_by, process_instance_id, step_id, idempotency_key, created_at)
       VALUES ($id, $form_key, $form_version, $data, $submitted_by, $process_instance_id, $step_id, $idempotency_key, $now)
       RETURNING ${SUBMISSION_COLUMNS}`,
    );
  }

  async publish(def: FormDefinition, now: string): Promise<{ form: StoredFormDefinition; created: boolean }> {
    return this.db.transaction(() => {
      const row = this.latest.get(def.key);
      const latest = row ? toForm(row) : undefined;
      const decision = nextVersion(latest, def, isSameDefinition);
      if (!decision.created) return { form: latest!, created: false };
      const inserted = this.insertForm.get({ key: def.key, version: decision.version, title: def.title, fields: JSON.stringify(def.fields), now })!;
      return { form: toForm(inserted), created: true };
    }).immediate();
  }

  async get(key: string, version: number): Promise<StoredFormDefinition | undefined> {
    const row = version > 0 ? this.exact.get(key, version) : this.latest.get(key);
    return row ? toForm(row) : undefined;
  }

  async list(filter: FormFilter): Promise<StoredFormDefinition[]> {
    const rows = filter.key !== undefined
      ? this.db.query<FormRow, [string, number, number]>(`SELECT ${FORM_COLUMNS} FROM forms WHERE key = ? ORDER BY version DESC LIMIT ? OFFSET ?`).all(filter.key, filter.limit, filter.offset)
      : this.db
          .query<FormRow, [number, number]>(
            `SELECT ${FORM_COLUMNS} FROM forms f WHERE version = (SELECT MAX(version) FROM forms WHERE key = f.key) ORDER BY key LIMIT ? OFFSET ?`,
          )
          .all(filter.limit, filter.offset);
    return rows.map(toForm);
  }

  async count(filter: Omit<FormFilter, "limit" | "offset">): Promise<number> {
    const row = filter.key !== undefined
      ? this.db.query<{ n: number }, [string]>("SELECT COUNT(*) AS n FROM forms WHERE key = ?").get(filter.key)
      : this.db.query<{ n: number }, []>("SELECT COUNT(DISTINCT key) AS n FROM forms").get();
    return row!.n;
  }

  async submit(input: NewSubmission, id: string, now: string): Promise<{ submission: Submission; created: boolean }> {
    return this.db.transaction(() => {
      if (input.idempotency_key) {
        const existing = this.submissionByKey.get(input.idempotency_key);
        if (existing) return { submission: toSubmission(existing), created: false };
      }
      const row = this.insertSubmission.get({
        id,
        form_key: input.form_key,
        form_version: input.form_version,
        data: JSON.stringify(input.data),
        submitted_by: input.submitted_by,
        process_instance_id: input.process_instance_id,
        step_id: input.step_id,
        idempotency_key: input.idempotency_key || null,
        now,
      })!;
      return { submission: toSubmission(row), created: true };
    }).immediate();
  }

  async getSubmission(id: string): Promise<Submission | undefined> {
    const row = this.submissionById.get(id);
    return row ? toSubmission(row) : undefined;
  }

  async ping(): Promise<void> {
    this.db.query("SELECT 1").get();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
