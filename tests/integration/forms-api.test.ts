import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { adminHeaders, authHeaders, json, postJson, startBpm, type BpmProcess } from "../support/bpm.ts";
import { grpcurl } from "./process-helpers.ts";
import { leaveRequestForm } from "../unit/domain/leave-example.ts";

let bpm: BpmProcess;
let gw: string;
let direct: string;
let grpcAddr: string;
let auth: Record<string, string>;
/** grpcurl's credential: an admin, who may name the submitter. */
let H: string[];
beforeAll(async () => {
  bpm = await startBpm({ roles: ["gateway", "form-service"] });
  gw = bpm.url("gateway");
  direct = bpm.url("form-service");
  grpcAddr = `127.0.0.1:${bpm.ports["form-service"].grpc}`;
  auth = await authHeaders(7, false, ["designer"]);
  H = ["-H", `authorization: ${(await adminHeaders()).authorization}`];
});
afterAll(() => bpm?.stop());

const publish = (form: unknown) => json(postJson(`${gw}/api/forms`, form, auth));
const uniqueKey = (base: string) => `${base}-${crypto.randomUUID().slice(0, 8)}`;

describe("publishing forms through the gateway", () => {
  test("a new key is v1 (201); the same content again is v1 unchanged (200); a change is v2", async () => {
    const key = uniqueKey("leave");
    const first = await publish({ ...leaveRequestForm, key });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ created: true, form: { key, version: 1, title: "Leave request" } });
    expect(first.headers.get("location")).toBe(`/api/forms/${key}/versions/1`);

    // key order and spelled-out defaults do not make a new version
    const reordered = { fields: leaveRequestForm.fields.map((f) => ({ required: false, ...f })), title: "Leave request", key };
    const again = await publish(reordered);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: false, form: { version: 1 } });

    const changed = await publish({ ...leaveRequestForm, key, title: "Leave request (2025)" });
    expect(changed.status).toBe(201);
    expect(changed.body.form.version).toBe(2);

    expect((await json(fetch(`${gw}/api/forms/${key}`, { headers: auth }))).body).toMatchObject({ version: 2, title: "Leave request (2025)" });
    expect((await json(fetch(`${gw}/api/forms/${key}?version=1`, { headers: auth }))).body).toMatchObject({ version: 1, title: "Leave request" });
    expect((await json(fetch(`${gw}/api/forms/${key}/versions/1`, { headers: auth }))).body.fields[2]).toEqual({
      name: "kind", label: "Kind of leave", type: "enum", required: false, options: ["annual", "sick", "unpaid"], default: "annual",
    });
    const versions = await json(fetch(`${gw}/api/forms/${key}/versions`, { headers: auth }));
    expect(versions.body.items.map((f: { version: number }) => f.version)).toEqual([2, 1]);
    expect(versions.body.total).toBe(2);
  });

  test("a fetched definition can be edited and published again", async () => {
    const key = uniqueKey("edit");
    await publish({ ...leaveRequestForm, key });
    const fetched = (await json(fetch(`${gw}/api/forms/${key}`, { headers: auth }))).body;
    expect((await publish(fetched)).body).toMatchObject({ created: false, form: { version: 1 } });
    fetched.fields[1].max = 20;
    expect((await publish(fetched)).body).toMatchObject({ created: true, form: { version: 2 } });
  });

  test("the list shows the latest version of each form", async () => {
    const key = uniqueKey("listed");
    await publish({ key, fields: [{ name: "a", type: "string" }] });
    await publish({ key, fields: [{ name: "a", type: "string" }, { name: "b", type: "number" }] });
    const list = await json(fetch(`${gw}/api/forms?limit=1000`, { headers: auth }));
    expect(list.status).toBe(200);
    const mine = list.body.items.filter((f: { key: string }) => f.key === key);
    expect(mine).toHaveLength(1);
    expect(mine[0].version).toBe(2);
  });

  test("bad definitions are 400, every problem named by path and field", async () => {
    const unknownType = await publish({ key: uniqueKey("bad"), fields: [{ name: "a", type: "text" }, { name: "b", type: "string", minLength: 2 }] });
    expect(unknownType.status).toBe(400);
    expect(unknownType.body.code).toBe("VALIDATION_FAILED");
    expect(unknownType.body.error).toContain("fields[0].type");
    expect(unknownType.body.details).toEqual([
      { path: "fields[0].type", field: "a", message: expect.stringContaining("unknown type") },
      { path: "fields[1].minLength", field: "b", message: "unknown key" },
    ]);

    const r = await publish({
      key: uniqueKey("bad"),
      fields: [
        { name: "b", type: "integer", min: 5, max: 1 },
        { name: "b", type: "string" },
        { name: "code", type: "string", pattern: "([a-z" },
      ],
    });
    expect(r.status).toBe(400);
    const problems = r.body.details.map((d: { path: string; field?: string }) => [d.path.replace(/\.[a-z_]+$/, ""), d.field]);
    expect(problems).toEqual(expect.arrayContaining([["fields[0]", "b"], ["fields[1]", "b"], ["fields[2]", "code"]]));
    expect(r.body.details.find((d: { field: string }) => d.field === "code").path).toBe("fields[2].pattern");
    expect(r.body.details.some((d: { message: string }) => /duplicate/.test(d.message))).toBe(true);
  });

  test("unknown forms and versions are 404", async () => {
    expect((await json(fetch(`${gw}/api/forms/no-such-form`, { headers: auth }))).status).toBe(404);
    const key = uniqueKey("v");
    await publish({ key, fields: [{ name: "a", type: "string" }] });
    expect((await json(fetch(`${gw}/api/forms/${key}/versions/9`, { headers: auth }))).status).toBe(404);
  });
});

describe("submissions", () => {
  let key: string;
  beforeAll(async () => {
    key = uniqueKey("leave-sub");
    await publish({ ...leaveRequestForm, key });
  });

  test("an invalid submission is 422 with one detail per failing field, and nothing is stored", async () => {
    const idem = { ...auth, "idempotency-key": `k-${crypto.randomUUID()}` };
    const bad = await json(postJson(`${gw}/api/forms/${key}/submissions`, { data: { days: 40, kind: "holiday", reason: 3, colour: "red" } }, idem));
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe("FORM_VALIDATION_FAILED");
    expect(bad.body.details).toEqual([
      { field: "start_date", code: "required", message: "is required" },
      { field: "days", code: "max", message: "must be at most 30" },
      { field: "kind", code: "enum", message: expect.any(String) },
      { field: "reason", code: "type", message: expect.any(String) },
      { field: "colour", code: "unknown_field", message: expect.any(String) },
    ]);
    // nothing was stored under that key: the same key now stores a first submission (201, not 200)
    const good = await json(postJson(`${gw}/api/forms/${key}/submissions`, { data: { start_date: "2025-07-01", days: 3 } }, idem));
    expect(good.status).toBe(201);
  });

  test("a valid submission is stored with defaults, by the verified user, readable by id; a repeat with its key returns it", async () => {
    const headers = { ...(await authHeaders(42)), "idempotency-key": `k-${crypto.randomUUID()}` };
    const r = await json(postJson(`${gw}/api/forms/${key}/submissions`, { data: { start_date: "2025-07-01", days: 3 }, submitted_by: 999 }, headers));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ form_key: key, form_version: 1, submitted_by: 42, data: { start_date: "2025-07-01", days: 3, kind: "annual" } });
    const again = await json(postJson(`${gw}/api/forms/${key}/submissions`, { data: { start_date: "2025-08-01", days: 9 } }, headers));
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(r.body.id);
    const got = await json(fetch(`${gw}/api/forms/submissions/${r.body.id}`, { headers: headers }));
    expect(got.body).toEqual(r.body);
    // another user: as if it did not exist
    expect((await json(fetch(`${gw}/api/forms/submissions/${r.body.id}`, { headers: auth }))).status).toBe(404);
  });

  test("a submission stays tied to the version it was made against", async () => {
    const k = uniqueKey("versioned");
    await publish({ key: k, fields: [{ name: "n", type: "integer", max: 5 }] });
    const v1 = await json(postJson(`${gw}/api/forms/${k}/submissions`, { data: { n: 5 } }, auth));
    await publish({ key: k, fields: [{ name: "n", type: "integer", max: 3 }] });
    expect((await json(postJson(`${gw}/api/forms/${k}/submissions`, { data: { n: 5 } }, auth))).status).toBe(422);
    const pinned = await json(postJson(`${gw}/api/forms/${k}/submissions`, { data: { n: 5 }, form_version: 1 }, auth));
    expect(pinned.status).toBe(201);
    expect(pinned.body.form_version).toBe(1);
    expect((await json(fetch(`${gw}/api/forms/submissions/${v1.body.id}`, { headers: auth }))).body.form_version).toBe(1);
  });

  test("validate checks without storing", async () => {
    const ok = await json(postJson(`${gw}/api/forms/${key}/validate`, { data: { start_date: "2025-07-01", days: 2 } }, auth));
    expect(ok.body).toEqual({ valid: true, errors: [], data: { start_date: "2025-07-01", days: 2, kind: "annual" }, form_version: 1 });
    const bad = await json(postJson(`${gw}/api/forms/${key}/validate`, { data: { start_date: "2023-02-29", days: 0 } }, auth));
    expect(bad.status).toBe(200);
    expect(bad.body.valid).toBe(false);
    expect(bad.body.errors.map((e: { field: string; code: string }) => [e.field, e.code])).toEqual([["start_date", "date"], ["days", "min"]]);
  });

  test("an unknown submission id is 404; submitting to an unknown form is 404", async () => {
    expect((await json(fetch(`${direct}/api/forms/submissions/nope`, { headers: auth }))).status).toBe(404);
    expect((await json(postJson(`${direct}/api/forms/no-such-form/submissions`, { data: {} }, auth))).status).toBe(404);
  });
});

describe("formservice.FormService with grpcurl (reflection, Struct data)", () => {
  test("lists and describes the service, Struct and Value like protoc would", async () => {
    const list = await grpcurl([grpcAddr, "list"]);
    expect(list.code).toBe(0);
    expect(list.out.split("\n")).toEqual(expect.arrayContaining(["formservice.FormService", "grpc.health.v1.Health"]));
    const svc = await grpcurl([grpcAddr, "describe", "formservice.FormService"]);
    expect(svc.out).toContain("rpc SubmitForm ( .formservice.SubmitFormRequest ) returns ( .formservice.Submission )");
    const field = await grpcurl([grpcAddr, "describe", "formservice.FormField"]);
    expect(field.out).toContain("optional double min = 5;");
    expect(field.out).toContain(".google.protobuf.Value default = 11;");
    const struct = await grpcurl([grpcAddr, "describe", "google.protobuf.Struct"]);
    expect(struct.out).toContain("map<string, .google.protobuf.Value> fields = 1;");
  });

  test("publish, submit and read back nested JSON data through Struct", async () => {
    const key = uniqueKey("grpc");
    const form = { key, fields: [{ name: "days", type: "integer", required: true, max: 30, default: 1 }, { name: "meta", type: "string" }] };
    const pub = await grpcurl([...H, "-d", "@", grpcAddr, "formservice.FormService/PublishForm"], JSON.stringify(form));
    expect(pub.code).toBe(0);
    expect(JSON.parse(pub.out)).toMatchObject({ created: true, form: { key, version: 1, fields: [{ name: "days", default: 1 }, { name: "meta" }] } });

    const sub = await grpcurl([...H, "-d", "@", grpcAddr, "formservice.FormService/SubmitForm"], JSON.stringify({ form_key: key, data: { meta: "x" }, submitted_by: 5 }));
    expect(sub.code).toBe(0);
    const stored = JSON.parse(sub.out);
    expect(stored).toMatchObject({ form_key: key, form_version: 1, submitted_by: 5, data: { days: 1, meta: "x" } });
    const got = await grpcurl([...H, "-d", JSON.stringify({ id: stored.id }), grpcAddr, "formservice.FormService/GetSubmission"]);
    expect(JSON.parse(got.out)).toEqual(stored);
    // the same submission is readable over REST
    expect((await json(fetch(`${direct}/api/forms/submissions/${stored.id}`, { headers: { authorization: H[1]!.slice("authorization: ".length) } }))).body.data).toEqual({ days: 1, meta: "x" });
  });

  test("ValidateSubmission answers with per-field errors; SubmitForm refuses with InvalidArgument", async () => {
    const key = uniqueKey("grpc-bad");
    await publish({ key, fields: [{ name: "days", type: "integer", max: 30 }] });
    const v = await grpcurl([...H, "-d", JSON.stringify({ form_key: key, data: { days: 31, nested: { list: [1, "two", null, true] } } }), grpcAddr, "formservice.FormService/ValidateSubmission"]);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.out)).toEqual({
      errors: [
        { field: "days", code: "max", message: "must be at most 30" },
        { field: "nested", code: "unknown_field", message: expect.any(String) },
      ],
      form_version: 1,
    });
    const s = await grpcurl([...H, "-d", JSON.stringify({ form_key: key, data: { days: 31 } }), grpcAddr, "formservice.FormService/SubmitForm"]);
    expect(s.code).not.toBe(0);
    expect(s.err).toContain("InvalidArgument");
    expect(s.err).toContain("1 field is invalid");
  });
});
