import { Elysia } from "elysia";
import { idempotencyKeyFrom, objectBody, parseInput } from "../../platform/http.ts";
import { principalFrom } from "../../platform/request-auth.ts";
import { GetFormQuerySchema, ListFormsQuerySchema, ValidateBodySchema, VersionSchema } from "./model.ts";
import type { FormService } from "./service.ts";

/**
 * REST edge of form-service: the same use cases as gRPC, JSON with proto field names. Definitions go
 * out as stored (unset settings left out, `default` as plain JSON), so they can be edited and published again.
 */
export function formRoutes(forms: FormService) {
  return new Elysia({ name: "form-routes" })
    .post("/api/forms", async ({ body, set, request }) => {
      const { form, created } = await forms.publish(principalFrom(request), body);
      set.status = created ? 201 : 200;
      set.headers.location = `/api/forms/${form.key}/versions/${form.version}`;
      return { form, created };
    })
    .get("/api/forms", async ({ query }) => {
      const q = parseInput(ListFormsQuerySchema, query, "query");
      const [items, total] = await Promise.all([forms.list(q), forms.count(q)]);
      return { items: items, total, limit: q.limit, offset: q.offset };
    })
    .get("/api/forms/submissions/:id", ({ params, request }) => forms.getSubmission(principalFrom(request), params.id))
    .get("/api/forms/:key", async ({ params, query }) => {
      const { version } = parseInput(GetFormQuerySchema, query, "query");
      return forms.get(params.key, version);
    })
    .get("/api/forms/:key/versions", async ({ params, query }) => {
      await forms.get(params.key); // 404 for an unknown form rather than an empty list
      const q = parseInput(ListFormsQuerySchema, { ...query, key: params.key }, "query");
      const [items, total] = await Promise.all([forms.list(q), forms.count(q)]);
      return { items: items, total, limit: q.limit, offset: q.offset };
    })
    .get("/api/forms/:key/versions/:version", async ({ params }) => {
      const version = parseInput(VersionSchema, params.version, "version");
      return forms.get(params.key, version);
    })
    .post("/api/forms/:key/validate", async ({ params, body }) => {
      const input = parseInput(ValidateBodySchema, objectBody(body), "request body");
      const r = await forms.validate(params.key, input.form_version, input.data ?? {});
      return { valid: r.valid, errors: r.errors, data: r.data ?? null, form_version: r.form_version };
    })
    .post("/api/forms/:key/submissions", async ({ params, body, request, set }) => {
      const input = objectBody(body);
      const key = idempotencyKeyFrom(request.headers);
      if (key && input.idempotency_key === undefined) input.idempotency_key = key;
      const { submission, created } = await forms.submit(principalFrom(request), params.key, input);
      set.status = created ? 201 : 200;
      set.headers.location = `/api/forms/submissions/${submission.id}`;
      return submission;
    });
}
