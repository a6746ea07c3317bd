import formProto from "../../../protos/form.proto" with { type: "text" };
import { formInputFromWire, formToWire, fromStruct, toStruct, type WireStruct } from "../../domain/forms/index.ts";
import { loadProtos, unary, type GrpcServer } from "../../platform/grpc.ts";
import { parseInput } from "../../platform/http.ts";
import { ListFormsQuerySchema, type Submission } from "./model.ts";
import type { FormService } from "./service.ts";

export const formPackage = loadProtos([formProto]);
export const FORM_SERVICE = "formservice.FormService";

interface GetFormReq { key: string; version: number }
interface ListFormsReq { key: string; limit: number; offset: number }
interface ValidateReq { form_key: string; form_version: number; data: WireStruct | null }
interface SubmitReq extends ValidateReq { submitted_by: number; process_instance_id: string; step_id: string; idempotency_key: string }

/** formservice.Submission: data as a Struct. */
export function submissionToWire(s: Submission): Record<string, unknown> {
  return { ...s, data: toStruct(s.data) };
}

export function addFormGrpc(server: GrpcServer, forms: FormService): void {
  server.addService(formPackage.definition, FORM_SERVICE, {
    PublishForm: unary(async (req: Record<string, unknown>, _call, caller) => {
      const { form, created } = await forms.publish(caller, formInputFromWire(req));
      return { form: formToWire(form), created };
    }),
    GetForm: unary(async (req: GetFormReq) => formToWire(await forms.get(req.key, Math.max(0, req.version)))),
    ListForms: unary(async (req: ListFormsReq) => {
      // proto3 zero values mean "not set"
      const q = parseInput(ListFormsQuerySchema, { key: req.key || undefined, limit: req.limit || undefined, offset: req.offset }, "request");
      return { forms: (await forms.list(q)).map(formToWire) };
    }),
    ValidateSubmission: unary(async (req: ValidateReq) => {
      const r = await forms.validate(req.form_key, Math.max(0, req.form_version), fromStruct(req.data));
      return { valid: r.valid, errors: r.errors, data: r.data === undefined ? null : toStruct(r.data), form_version: r.form_version };
    }),
    SubmitForm: unary(async (req: SubmitReq, _call, caller) => {
      const { submission } = await forms.submit(caller, req.form_key, { ...req, data: fromStruct(req.data) });
      return submissionToWire(submission);
    }),
    GetSubmission: unary(async (req: { id: string }, _call, caller) => submissionToWire(await forms.getSubmission(caller, req.id))),
  });
}
