import type { FormDefinition, StoredFormDefinition } from "../../domain/forms/index.ts";
import type { StoreSpans } from "../../telemetry/storage-spans.ts";
import type { FormFilter, NewSubmission, Submission } from "./model.ts";

/** Where forms and submissions live. Writes resolve only after they are durable. */
export interface FormStore {
  /**
   * Stores `def` as the next version of its key, or returns the latest version unchanged when its
   * content is the same (decided inside the write, so two concurrent publishes cannot both get one version).
   */
  publish(def: FormDefinition, now: string): Promise<{ form: StoredFormDefinition; created: boolean }>;
  /** version 0 = the latest. */
  get(key: string, version: number): Promise<StoredFormDefinition | undefined>;
  list(filter: FormFilter): Promise<StoredFormDefinition[]>;
  count(filter: Omit<FormFilter, "limit" | "offset">): Promise<number>;
  /** Returns the first submission with the same idempotency key instead of storing a second one. */
  submit(input: NewSubmission, id: string, now: string): Promise<{ submission: Submission; created: boolean }>;
  getSubmission(id: string): Promise<Submission | undefined>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

function formStoreSpans(tables: { forms: string; submissions: string }): StoreSpans<FormStore> {
  return {
    publish: ["INSERT", tables.forms],
    get: ["SELECT", tables.forms],
    list: ["SELECT", tables.forms],
    count: ["SELECT", tables.forms],
    submit: ["INSERT", tables.submissions],
    getSubmission: ["SELECT", tables.submissions],
  };
}

/** One storage span per call, named after each engine's tables; ping and close are not traced. */
export const FORM_STORE_SPANS = {
  sqlite: formStoreSpans({ forms: "forms", submissions: "submissions" }),
  postgresql: formStoreSpans({ forms: "forms", submissions: "form_submissions" }),
} as const;
