import type { FormField, StoredFormDefinition } from "../../domain/forms/index.ts";
import type { Submission } from "./model.ts";

/** A `forms` row as both engines return it: fields as JSON text, created_at as ISO-8601. */
export interface FormRow {
  key: string;
  version: number;
  title: string;
  fields: string;
  created_at: string;
}

/** A submissions row: the data as JSON text. */
export type SubmissionRow = Omit<Submission, "data"> & { data: string };

export const toForm = (r: FormRow): StoredFormDefinition => ({ key: r.key, version: r.version, title: r.title, fields: JSON.parse(r.fields) as FormField[], created_at: r.created_at });
export const toSubmission = (r: SubmissionRow): Submission => ({ ...r, data: JSON.parse(r.data) });
