// grpc_tls: every role's gRPC port speaks TLS, and role-to-role calls (process-service → form-service
// and task-service, form-service → process-service) verify their peer against the configured CA.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import taskProto from "../../protos/task.proto" with { type: "text" };
import { loadConfig } from "../../src/config/loader.ts";
import { loadProtos } from "../../src/platform/grpc.ts";
import { authHeaders, json, postJson, startBpm, tempDir, token, type BpmProcess } from "../support/bpm.ts";
import { eventually } from "./process-helpers.ts";

let bpm: BpmProcess;
let dir: string;
const sh = (args: string[]) => {
  const r = Bun.spawnSync(args, { cwd: dir, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${args.join(" ")}: ${r.stderr.toString()}`);
};

beforeAll(async () => {
  dir = tempDir("bpm-tls-");
  // a CA, and one certificate for 127.0.0.1 that every role serves
  sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=bpm test CA"]);
  sh(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "role.key", "-out", "role.csr", "-subj", "/CN=127.0.0.1"]);
  Bun.write(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  sh(["openssl", "x509", "-req", "-in", "role.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "role.crt", "-days", "1", "-extfile", "san.ext"]);
  bpm = await startBpm({ config: { grpc_tls: { enabled: true, cert_file: join(dir, "role.crt"), key_file: join(dir, "role.key"), ca_file: join(dir, "ca.crt"), server_name: "localhost" } } });
});
afterAll(() => bpm?.stop());

const TaskService = grpc.makeGenericClientConstructor(loadProtos([taskProto]).definition["taskservice.TaskService"] as grpc.ServiceDefinition, "taskservice.TaskService");
function getTask(creds: grpc.ChannelCredentials, id: number, authorization?: string): Promise<{ code: number; user_id?: number }> {
  const c = new TaskService(`127.0.0.1:${bpm.ports["task-service"].grpc}`, creds, { "grpc.ssl_target_name_override": "localhost" });
  const md = new grpc.Metadata();
  if (authorization) md.set("authorization", authorization);
  return new Promise((resolve) => {
    (c as any).GetTask({ id }, md, { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null, res: { user_id: number }) => {
      c.close();
      resolve(err ? { code: err.code } : { code: 0, user_id: res.user_id });
    });
  });
}

describe("gRPC over TLS", () => {
  test("a process runs end to end: process-service reaches form-service and task-service over TLS with its service credential", async () => {
    const gw = bpm.url("gateway");
    const designer = await authHeaders(40, false, ["designer"]);
    const alice = await authHeaders(41);
    expect((await postJson(`${gw}/api/forms`, { key: "tls-note", fields: [{ name: "note", type: "string" }] }, designer)).status).toBe(201);
    // deploying asks form-service (GetForm) whether the form exists
    const dep = await json(postJson(`${gw}/api/processes`, { key: "tls-p", steps: [{ id: "write", form_key: "tls-note", assignee: "${who}" }] }, designer));
    expect(dep.status).toBe(201);
    const started = await json(postJson(`${gw}/api/processes/tls-p/instances`, { variables: { who: 41 } }, alice));
    expect(started.status).toBe(201);
    // the outbox delivers the step's task to task-service over TLS
    const task = await eventually("the step's task", async () => {
      const r = await json(fetch(`${gw}/api/tasks?process_instance_id=${started.body.id}`, { headers: alice }));
      return r.body.items[0] as { id: number; user_id: number } | undefined;
    }, 10_000);
    expect(task.user_id).toBe(41);
    // completing validates and stores the data in form-service over TLS
    const done = await json(postJson(`${gw}/api/processes/instances/${started.body.id}/complete`, { step_id: "write", data: { note: "hi" } }, alice));
    expect(done.status).toBe(200);
    expect(done.body.status).toBe("completed");
  });

  test("the gRPC port refuses plaintext and a certificate from another CA; with the CA, credentials are still checked", async () => {
    const created = await json(postJson(`${bpm.url("task-service")}/api/tasks`, { title: "tls", user_id: 42 }, await authHeaders(42)));
    const id = created.body.id as number;
    expect((await getTask(grpc.credentials.createInsecure(), id, `Bearer ${await token(42)}`)).code).toBe(grpc.status.UNAVAILABLE);
    const ca = readFileSync(join(dir, "ca.crt"));
    sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.crt", "-days", "1", "-subj", "/CN=another CA"]);
    expect((await getTask(grpc.credentials.createSsl(readFileSync(join(dir, "other.crt"))), id, `Bearer ${await token(42)}`)).code).toBe(grpc.status.UNAVAILABLE);
    expect(await getTask(grpc.credentials.createSsl(ca), id, `Bearer ${await token(42)}`)).toEqual({ code: 0, user_id: 42 });
    expect((await getTask(grpc.credentials.createSsl(ca), id)).code).toBe(grpc.status.UNAUTHENTICATED);
  });

  test("turning it on without the CA is a config error naming the key", async () => {
    await expect(loadConfig({ env: {}, overrides: { grpc_tls: { enabled: true, cert_file: "a.crt", key_file: "a.key" } } })).rejects.toThrow(/^config: grpc_tls\.ca_file is required when grpc_tls\.enabled is true/);
  });
});
