import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { join } from "node:path";
import protobuf from "protobufjs";
import { REPO, startBpm, token, type BpmProcess } from "../support/bpm.ts";

/**
 * Every RPC of the three services, driven with invalid input through a raw client (we build the
 * bytes): undecodable bytes, a field sent with the wrong wire type, missing fields, out-of-range
 * values, values outside a closed set, a message over the 16 MiB limit. The answer is always
 * INVALID_ARGUMENT, NOT_FOUND or RESOURCE_EXHAUSTED — never UNKNOWN or INTERNAL — and the process
 * keeps serving. (The protos have no proto enums: closed sets such as priority are strings, tried
 * with unknown values below.)
 */
const S = grpc.status;
const REFUSED = [S.INVALID_ARGUMENT, S.NOT_FOUND, S.RESOURCE_EXHAUSTED];

let bpm: BpmProcess;
let root: protobuf.Root;
let metadata: grpc.Metadata;
const clients = new Map<string, grpc.Client>();

beforeAll(async () => {
  bpm = await startBpm({ roles: ["task-service", "form-service", "process-service"] });
  root = new protobuf.Root();
  root.loadSync(["task.proto", "form.proto", "process.proto"].map((f) => join(REPO, "protos", f)), { keepCase: true });
  root.resolveAll();
  metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${await token("1", { admin: true })}`);
});
afterAll(async () => {
  for (const c of clients.values()) c.close();
  await bpm?.stop();
});

const SERVICES = { "taskservice.TaskService": "task-service", "formservice.FormService": "form-service", "processservice.ProcessService": "process-service" } as const;
type ServiceName = keyof typeof SERVICES;

function clientFor(service: ServiceName): grpc.Client {
  let c = clients.get(service);
  if (!c) {
    c = new grpc.Client(`127.0.0.1:${bpm.ports[SERVICES[service]].grpc}`, grpc.credentials.createInsecure(), { "grpc.max_send_message_length": -1 });
    clients.set(service, c);
  }
  return c;
}

const raw = (b: Buffer) => b;

/** One call with raw request bytes; resolves to the status code (streams: the status after any messages). */
function call(service: ServiceName, method: protobuf.Method, body: Buffer): Promise<number> {
  const path = `/${service}/${method.name}`;
  const deadline = Date.now() + 10_000;
  return new Promise((resolve) => {
    const client = clientFor(service);
    if (method.responseStream) {
      const stream = client.makeServerStreamRequest(path, raw, raw, body, metadata, { deadline });
      stream.on("data", () => {});
      stream.on("error", (e: grpc.ServiceError) => resolve(e.code));
      stream.on("status", (s: grpc.StatusObject) => resolve(s.code));
    } else {
      client.makeUnaryRequest(path, raw, raw, body, metadata, { deadline }, (err) => resolve(err ? err.code : S.OK));
    }
  });
}

const encode = (method: protobuf.Method, value: Record<string, unknown>) => {
  const type = root.lookupType(method.requestType);
  // a misspelt field would be dropped silently and test nothing
  for (const k of Object.keys(value)) if (!type.fields[k]) throw new Error(`${type.name} has no field ${k}`);
  return Buffer.from(type.encode(type.fromObject(value)).finish());
};

/** Field 1 of the request with the wire type it does not have (a varint where bytes belong, or bytes where a varint does). */
function wrongWireType(method: protobuf.Method): Buffer {
  const field = root.lookupType(method.requestType).fieldsArray.find((f) => f.id === 1)!;
  const lengthDelimited = field.repeated || field.resolvedType !== null || field.type === "string" || field.type === "bytes";
  const w = protobuf.Writer.create();
  if (lengthDelimited) w.uint32((1 << 3) | 0).uint64(2 ** 40);
  else w.uint32((1 << 3) | 2).string("not a number");
  return Buffer.from(w.finish());
}

const oversized = () => Buffer.from(protobuf.Writer.create().uint32((999 << 3) | 2).bytes(new Uint8Array(17 * 1024 * 1024)).finish());

/** Requests that are invalid for each RPC besides the generic ones: missing fields, out-of-range values, unknown names. */
const INVALID: Record<string, Record<string, unknown>[]> = {
  CreateTask: [{}, { title: "x" }, { title: "x", user_id: -1 }, { title: " ", user_id: 1 }, { title: "x", user_id: 1, priority: "urgent" }, { title: "x", user_id: 1, status: "paused" }, { title: "x".repeat(501), user_id: 1 }],
  GetTask: [{}, { id: -1 }, { id: 2147483647 }],
  UpdateTask: [{}, { id: -3, title: "x" }, { id: 1, priority: "urgent" }, { id: 1, user_id: -5 }],
  DeleteTask: [{}, { id: -1 }],
  ListTasks: [{ limit: -1 }, { offset: -1 }, { user_id: -1 }, { status: "paused" }],
  StreamTaskUpdates: [{ user_id: -1 }, { task_ids: [-1] }],
  PublishForm: [{}, { key: "bad key!" }, { key: "f", fields: [{ name: "a", type: "color" }] }, { key: "f", fields: [{ name: "1a", type: "string" }] }],
  GetForm: [{}, { key: "no-such-form" }, { key: "f", version: -1 }],
  ListForms: [{ limit: -1 }, { offset: -1 }],
  ValidateSubmission: [{}, { form_key: "no-such-form" }, { form_key: "f", form_version: -1 }],
  SubmitForm: [{}, { form_key: "no-such-form" }, { form_key: "f", submitted_by: -1 }],
  GetSubmission: [{}, { id: "x".repeat(1000) }, { id: "no-such-submission" }],
  DeployDefinition: [{}, { key: "p" }, { key: "p", steps: [{ id: "a", form_key: "no-such-form", assignee: "1", priority: "urgent" }] }],
  GetDefinition: [{}, { key: "no-such-process" }, { key: "p", version: -1 }],
  ListDefinitions: [{ limit: -1 }, { offset: -1 }],
  StartInstance: [{}, { definition_key: "no-such-process", started_by: 1 }, { definition_key: "p", started_by: -1 }, { definition_key: "p", started_by: 1, definition_version: -1 }],
  GetInstance: [{}, { id: "no-such-instance" }],
  ListInstances: [{ limit: -1 }, { status: "bogus" }, { started_by: -1 }],
  CompleteStep: [{}, { instance_id: "no-such-instance", step_id: "a", user_id: 1 }, { instance_id: "x", user_id: -1 }],
  CancelInstance: [{}, { instance_id: "no-such-instance", user_id: 1 }],
};

describe("every RPC refuses invalid input with INVALID_ARGUMENT / NOT_FOUND / RESOURCE_EXHAUSTED", () => {
  for (const service of Object.keys(SERVICES) as ServiceName[]) {
    test(service, async () => {
      const methods = root.lookupService(service).methodsArray;
      for (const method of methods) {
        const cases = INVALID[method.name];
        expect(cases, `${method.name} has invalid cases`).toBeDefined();
        const expectCode = async (what: string, body: Buffer, allowed: number[]) => {
          const code = await call(service, method, body);
          expect(`${method.name} ${what} → ${S[code]}`).toMatch(new RegExp(`→ (${allowed.map((c) => S[c]).join("|")})$`));
        };
        await expectCode("undecodable bytes", Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]), [S.INVALID_ARGUMENT]);
        await expectCode("field 1 with the wrong wire type", wrongWireType(method), [S.INVALID_ARGUMENT]);
        await expectCode("17 MiB", oversized(), [S.RESOURCE_EXHAUSTED]);
        for (const c of cases!) await expectCode(JSON.stringify(c).slice(0, 80), encode(method, c), REFUSED);
      }
      // still serving: health says so and a valid call works
      const health = await new Promise<number>((resolve) =>
        clientFor(service).makeUnaryRequest("/grpc.health.v1.Health/Check", raw, raw, Buffer.alloc(0), (err) => resolve(err ? err.code : S.OK)),
      );
      expect(S[health]).toBe("OK");
      const list = root.lookupService(service).methodsArray.find((m) => m.name.startsWith("List"))!;
      expect(S[await call(service, list, encode(list, { limit: 1 }))]).toBe("OK");
    }, 120_000);
  }
});
