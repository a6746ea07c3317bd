import * as v from "valibot";
import { FIELD_TYPES, FormDefinitionSchema, JsonObjectSchema, KeySchema } from "../../domain/forms/index.ts";
import { pageOf } from "../../domain/page.ts";
import type { ApiRoute } from "../../platform/openapi.ts";
import { GetFormQuerySchema, ListFormsQuerySchema, SubmissionIdSchema, SubmitBodySchema, ValidateBodySchema, VersionSchema } from "./model.ts";

const integer = v.pipe(v.number(), v.integer());
const timestamp = v.pipe(v.string(), v.isoTimestamp());

/** A published form as it goes out: unset settings left out, `default` as plain JSON. */
export const FormSchema = v.object({
  key: v.string(),
  version: integer,
  title: v.string(),
  created_at: timestamp,
  fields: v.array(
    v.object({
      name: v.string(),
      label: v.string(),
      type: v.picklist(FIELD_TYPES),
      required: v.boolean(),
      min: v.optional(v.number()),
      max: v.optional(v.number()),
      min_length: v.optional(integer),
      max_length: v.optional(integer),
      pattern: v.optional(v.string()),
      options: v.optional(v.array(v.string())),
      default: v.optional(v.unknown()),
    }),
  ),
});

export const SubmissionSchema = v.object({
  id: v.string(),
  form_key: v.string(),
  form_version: integer,
  data: JsonObjectSchema,
  submitted_by: integer,
  process_instance_id: v.string(),
  step_id: v.string(),
  created_at: timestamp,
});

const FieldErrorSchema = v.object({ field: v.string(), message: v.string(), code: v.string() });
const Validation = v.object({ valid: v.boolean(), errors: v.array(FieldErrorSchema), data: v.nullable(JsonObjectSchema), form_version: integer });
const Published = v.object({ form: FormSchema, created: v.boolean() });
const IdempotencyKey = v.pipe(v.string(), v.maxLength(200));

// "submissions" is a route of its own (/api/forms/submissions/{id}), never a key
const key = { key: KeySchema };
const publishedLinks = {
  GetForm: { operationId: "getForm", parameters: { key: "$response.body#/form/key" } },
  GetFormVersion: { operationId: "getFormVersion", parameters: { key: "$response.body#/form/key", version: "$response.body#/form/version" } },
  ListFormVersions: { operationId: "listFormVersions", parameters: { key: "$response.body#/form/key" } },
  ValidateData: { operationId: "validateFormData", parameters: { key: "$response.body#/form/key" }, requestBody: { form_version: "$response.body#/form/version" } },
  Submit: { operationId: "submitForm", parameters: { key: "$response.body#/form/key" }, requestBody: { form_version: "$response.body#/form/version" }, description: "submit data to the version just published" },
};
const submittedLinks = { GetSubmission: { operationId: "getSubmission", parameters: { id: "$response.body#/id" } } };

/**
 * The public form API (served by form-service, reached through the gateway). Whether a definition
 * or a submission is accepted also depends on rules across fields (min ≤ max, enum options, the
 * form's own fields), so a well-formed body can still get 400 or 422.
 */
export const FORM_API: readonly ApiRoute[] = [
  {
    method: "post", path: "/api/forms", operationId: "publishForm", tag: "forms",
    summary: "Publish a form definition (designers and admins): a new version when it differs from the latest, else the latest (200)",
    body: FormDefinitionSchema, errors: [403],
    responses: [
      { status: 201, description: "a new version", schema: Published, links: publishedLinks },
      { status: 200, description: "the same as the latest version: nothing published", schema: Published, links: publishedLinks },
    ],
  },
  { method: "get", path: "/api/forms", operationId: "listForms", tag: "forms", summary: "List forms (the latest version of each; with `key`, that form's versions), paginated", query: ListFormsQuerySchema, responses: [{ status: 200, description: "one page", schema: pageOf(FormSchema) }] },
  { method: "get", path: "/api/forms/submissions/{id}", operationId: "getSubmission", tag: "forms", summary: "Get a submission", pathParams: { id: SubmissionIdSchema }, responses: [{ status: 200, description: "the submission", schema: SubmissionSchema }] },
  { method: "get", path: "/api/forms/{key}", operationId: "getForm", tag: "forms", summary: "Get a form (the latest version, or `version`)", pathParams: key, query: GetFormQuerySchema, responses: [{ status: 200, description: "the form", schema: FormSchema }] },
  { method: "get", path: "/api/forms/{key}/versions", operationId: "listFormVersions", tag: "forms", summary: "List a form's versions, newest first", pathParams: key, query: v.omit(ListFormsQuerySchema, ["key"]), responses: [{ status: 200, description: "one page", schema: pageOf(FormSchema) }] },
  { method: "get", path: "/api/forms/{key}/versions/{version}", operationId: "getFormVersion", tag: "forms", summary: "Get one version of a form (0 = the latest)", pathParams: { ...key, version: VersionSchema }, responses: [{ status: 200, description: "the form", schema: FormSchema }] },
  {
    method: "post", path: "/api/forms/{key}/validate", operationId: "validateFormData", tag: "forms",
    summary: "Check data against a form without storing it", pathParams: key, body: ValidateBodySchema, bodyOptional: true,
    responses: [{ status: 200, description: "the verdict: `errors` names each failing field", schema: Validation }],
  },
  {
    method: "post", path: "/api/forms/{key}/submissions", operationId: "submitForm", tag: "forms",
    summary: "Submit data to a form (validated; an Idempotency-Key makes a repeat return the first submission, 200)",
    pathParams: key, headers: { "Idempotency-Key": IdempotencyKey }, body: SubmitBodySchema, bodyOptional: true, errors: [403, 409, 422],
    responses: [
      { status: 201, description: "stored", schema: SubmissionSchema, links: submittedLinks },
      { status: 200, description: "an earlier submission with the same idempotency key", schema: SubmissionSchema, links: submittedLinks },
    ],
  },
];
