// The authorization table of docs/security.md, walked row by row: every caller, through the
// gateway and straight at the owning role's HTTP and gRPC ports. The rows come from the doc
// itself, so a row the code does not enforce (or a row without a check here) fails.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import formProto from "../../protos/form.proto" with { type: "text" };
import processProto from "../../protos/process.proto" with { type: "text" };
import taskProto from "../../protos/task.proto" with { type: "text" };
import healthProto from "../../protos/grpc/health/v1/health.proto" with { type: "text" };
import { toStruct } from "../../src/domain/forms/index.ts";
import { grpcCodeForHttp } from "../../src/platform/errors.ts";
import { loadProtos } from "../../src/platform/grpc.ts";
import { authHeaders, json, REPO, startBpm, token, type BpmProcess } from "../support/bpm.ts";

const CALLERS = ["none", "owner", "other", "designer", "admin", "service"] as const;
type Caller = (typeof CALLERS)[number];
type Expect = { status: number; scope?: "own" | "all" };
interface Row { id: string; rest: string; grpc: string | undefined; expect: Record<Caller, Expect> }

/** The table under "Who may do what" in docs/security.md. */
function docRows(): Row[] {
  const md = readFileSync(join(REPO, "docs/security.md"), "utf8");
  const rows: Row[] = [];
  for (const line of md.split("\n")) {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    if (cells.length !== 9 || !/^[a-z]+\.[a-z-]+$/.test(cells[0]!)) continue;
    const expect = {} as Record<Caller, Expect>;
    CALLERS.forEach((c, i) => {
      const m = /^(\d{3})(?: \((own|all)\))?$/.exec(cells[3 + i]!);
      if (!m) throw new Error(`docs/security.md row ${cells[0]}: cannot read "${cells[3 + i]}"`);
      expect[c] = { status: Number(m[1]), scope: m[2] as Expect["scope"] };
    });
    rows.push({ id: cells[0]!, rest: cells[1]!, grpc: cells[2] === "—" ? undefined : cells[2]!.replace(/`/g, ""), expect });
  }
  return rows;
}

const OWNER = 501;
const OTHER = 502;
const DESIGNER = 503;
const ADMIN = 1;
const USER_OF: Record<Caller, number | undefined> = { none: undefined, owner: OWNER, other: OTHER, designer: DESIGNER, admin: ADMIN, service: undefined };

/** What a call came back with: a status (gRPC codes mapped to the table's HTTP ones) and, for lists and streams, whose objects it carried. */
interface Answer { status: number; grpcCode?: number; users?: number[]; body?: any }
type Channel = "gateway" | "http" | "grpc";

let bpm: BpmProcess;
const creds = {} as Record<Caller, string | undefined>;
const run = `z${Date.now().toString(36)}`;
const FORM = `${run}-form`;
const PROCESS = `${run}-process`;

const protos = {
  task: loadProtos([taskProto]).definition,
  form: loadProtos([formProto]).definition,
  process: loadProtos([processProto]).definition,
  health: loadProtos([healthProto]).definition,
};
const clients = new Map<string, grpc.Client>();
function client(kind: keyof typeof protos, service: string, port: number): grpc.Client {
  const key = `${service}@${port}`;
  let c = clients.get(key);
  if (!c) {
    const Ctor = grpc.makeGenericClientConstructor(protos[kind][service] as grpc.ServiceDefinition, service);
    clients.set(key, (c = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure())));
  }
  return c;
}

/** The caller's credential; `none` forges the old identity headers instead. */
function headersOf(who: Caller): Record<string, string> {
  return creds[who] ? { authorization: creds[who]! } : { "x-bpm-user-id": String(OWNER), "x-bpm-user-admin": "true" };
}
function metadataOf(who: Caller): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headersOf(who))) md.set(k, v);
  return md;
}

const ROLE_OF: Record<string, "task-service" | "form-service" | "process-service"> = { tasks: "task-service", forms: "form-service", submissions: "form-service", processes: "process-service", instances: "process-service", admin: "process-service", open: "task-service" };

async function http(ch: Channel, role: string, who: Caller, method: string, path: string, body?: unknown): Promise<Answer> {
  const base = ch === "gateway" ? bpm.url("gateway") : bpm.url(role as "task-service");
  const headers: Record<string, string> = { ...headersOf(who), ...(body !== undefined ? { "content-type": "application/json" } : {}) };
  const r = await json(fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
  return { status: r.status, body: r.body };
}

const SERVICES = { TaskService: ["task", "taskservice.TaskService", "task-service"], FormService: ["form", "formservice.FormService", "form-service"], ProcessService: ["process", "processservice.ProcessService", "process-service"] } as const;

function unaryCall(who: Caller, rpc: string, req: unknown): Promise<Answer> {
  const [svc, method] = rpc.split("/") as [string, string];
  const c = svc === "grpc.health.v1.Health" ? client("health", "grpc.health.v1.Health", bpm.ports["task-service"].grpc!) : (() => {
    const [kind, full, role] = SERVICES[svc as keyof typeof SERVICES];
    return client(kind, full, bpm.ports[role].grpc!);
  })();
  return new Promise((resolve) => {
    (c as any)[method](req, metadataOf(who), { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res: unknown) => {
      resolve(err ? { status: -1, grpcCode: err.code } : { status: 200, grpcCode: 0, body: res });
    });
  });
}

function streamCall(who: Caller, rpc: string, req: unknown): grpc.ClientReadableStream<any> {
  const [svc, method] = rpc.split("/") as [string, string];
  const [kind, full, role] = SERVICES[svc as keyof typeof SERVICES];
  return (client(kind, full, bpm.ports[role].grpc!) as any)[method](req, metadataOf(who));
}

/** A whole server stream: its messages, or the status it failed with. */
function collect(s: grpc.ClientReadableStream<any>): Promise<Answer & { items: any[] }> {
  const items: any[] = [];
  return new Promise((resolve) => {
    s.on("data", (m) => items.push(m));
    s.on("error", (err: grpc.ServiceError) => resolve({ status: -1, grpcCode: err.code, items }));
    s.on("end", () => resolve({ status: 200, grpcCode: 0, items }));
  });
}

// --- fixtures, made by an admin straight at the owning role ------------------------------------

async function asAdmin(role: string, method: string, path: string, body?: unknown): Promise<any> {
  const r = await http("http", role, "admin", method, path, body);
  if (r.status >= 300) throw new Error(`fixture ${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
const newTask = (userId = OWNER) => asAdmin("task-service", "POST", "/api/tasks", { title: `fixture ${run}`, user_id: userId });
const readTask = (id: number) => http("http", "task-service", "admin", "GET", `/api/tasks/${id}`);
const newInstance = () => asAdmin("process-service", "POST", `/api/processes/${PROCESS}/instances`, { variables: { who: OWNER }, started_by: OWNER });
const readInstance = async (id: string) => (await http("http", "process-service", "admin", "GET", `/api/processes/instances/${id}`)).body;
const ownersOfTasks = (items: { user_id: number }[]) => items.map((t) => t.user_id);
let uniq = 0;
const fresh = (base: string) => `${base}-${++uniq}`;

/** One check per table row: performs it on a channel as a caller; a refused write is read back. */
type Check = (ch: Channel, who: Caller) => Promise<Answer & { unchanged?: () => Promise<void> }>;

const viaHttpOrGrpc = async (ch: Channel, who: Caller, role: string, rest: () => [string, string, unknown?], rpc: string | undefined, req: () => unknown): Promise<Answer> => {
  if (ch !== "grpc") {
    const [m, p, b] = rest();
    return http(ch, role, who, m, p, b);
  }
  return unaryCall(who, rpc!, req());
};

const CHECKS: Record<string, Check> = {
  "tasks.create": async (ch, who) => {
    const title = fresh(`created-${run}`);
    const a = await viaHttpOrGrpc(ch, who, "task-service", () => ["POST", "/api/tasks", { title, user_id: OWNER }], "TaskService/CreateTask", () => ({ title, user_id: OWNER }));
    return { ...a, unchanged: async () => {
      const all = await asAdmin("task-service", "GET", `/api/tasks?user_id=${OWNER}&limit=1000`);
      expect(all.items.some((t: { title: string }) => t.title === title)).toBe(false);
    } };
  },
  "tasks.get": async (ch, who) => {
    const t = await newTask();
    return viaHttpOrGrpc(ch, who, "task-service", () => ["GET", `/api/tasks/${t.id}`], "TaskService/GetTask", () => ({ id: t.id }));
  },
  "tasks.patch": async (ch, who) => {
    const t = await newTask();
    const a = await viaHttpOrGrpc(ch, who, "task-service", () => ["PATCH", `/api/tasks/${t.id}`, { title: "changed" }], "TaskService/UpdateTask", () => ({ id: t.id, title: "changed" }));
    return { ...a, unchanged: async () => expect((await readTask(t.id)).body).toEqual(t) };
  },
  "tasks.put": async (ch, who) => {
    const t = await newTask();
    const a = await http(ch, "task-service", who, "PUT", `/api/tasks/${t.id}`, { title: "replaced", status: "done" });
    return { ...a, unchanged: async () => expect((await readTask(t.id)).body).toEqual(t) };
  },
  "tasks.delete": async (ch, who) => {
    const t = await newTask();
    const a = await viaHttpOrGrpc(ch, who, "task-service", () => ["DELETE", `/api/tasks/${t.id}`], "TaskService/DeleteTask", () => ({ id: t.id }));
    return { ...a, unchanged: async () => expect((await readTask(t.id)).body).toEqual(t) };
  },
  "tasks.list": async (ch, who) => {
    await newTask();
    if (ch !== "grpc") {
      const a = await http(ch, "task-service", who, "GET", `/api/tasks?user_id=${OWNER}&limit=1000`);
      return { ...a, users: a.status === 200 ? ownersOfTasks(a.body.items) : undefined };
    }
    const a = await collect(streamCall(who, "TaskService/ListTasks", { user_id: OWNER, limit: 1000 }));
    return { ...a, users: ownersOfTasks(a.items) };
  },
  "tasks.stream": (ch, who) => taskStream(ch, who),
  "forms.publish": async (ch, who) => {
    const key = fresh(`${run}-pub`);
    const form = { key, title: "t", fields: [{ name: "note", type: "string" }] };
    const a = await viaHttpOrGrpc(ch, who, "form-service", () => ["POST", "/api/forms", form], "FormService/PublishForm", () => form);
    return { ...a, unchanged: async () => expect((await http("http", "form-service", "admin", "GET", `/api/forms/${key}`)).status).toBe(404) };
  },
  "forms.list": (ch, who) => viaHttpOrGrpc(ch, who, "form-service", () => ["GET", "/api/forms"], "FormService/ListForms", () => ({})),
  "forms.get": (ch, who) => viaHttpOrGrpc(ch, who, "form-service", () => ["GET", `/api/forms/${FORM}`], "FormService/GetForm", () => ({ key: FORM })),
  "forms.versions": (ch, who) => http(ch, "form-service", who, "GET", `/api/forms/${FORM}/versions`),
  "forms.version": (ch, who) => http(ch, "form-service", who, "GET", `/api/forms/${FORM}/versions/1`),
  "forms.validate": (ch, who) =>
    viaHttpOrGrpc(ch, who, "form-service", () => ["POST", `/api/forms/${FORM}/validate`, { data: { note: "x" } }], "FormService/ValidateSubmission", () => ({ form_key: FORM, data: toStruct({ note: "x" }) })),
  "forms.submit": async (ch, who) => {
    const note = fresh("submitted");
    const a = await viaHttpOrGrpc(ch, who, "form-service", () => ["POST", `/api/forms/${FORM}/submissions`, { data: { note } }], "FormService/SubmitForm", () => ({ form_key: FORM, data: toStruct({ note }) }));
    return a;
  },
  "submissions.get": async (ch, who) => {
    const s = await asAdmin("form-service", "POST", `/api/forms/${FORM}/submissions`, { data: { note: "mine" }, submitted_by: OWNER });
    return viaHttpOrGrpc(ch, who, "form-service", () => ["GET", `/api/forms/submissions/${s.id}`], "FormService/GetSubmission", () => ({ id: s.id }));
  },
  "submissions.get-participant": async (ch, who) => {
    // made by someone else (777) for an instance the owner started: the owner reads it as a participant
    const instance = await newInstance();
    const s = await asAdmin("form-service", "POST", `/api/forms/${FORM}/submissions`, { data: { note: "theirs" }, submitted_by: 777, process_instance_id: instance.id });
    return viaHttpOrGrpc(ch, who, "form-service", () => ["GET", `/api/forms/submissions/${s.id}`], "FormService/GetSubmission", () => ({ id: s.id }));
  },
  "processes.deploy": async (ch, who) => {
    const key = fresh(`${run}-dep`);
    const def = { key, name: "d", steps: [{ id: "only", form_key: FORM, assignee: "7" }] };
    const a = await viaHttpOrGrpc(ch, who, "process-service", () => ["POST", "/api/processes", def], "ProcessService/DeployDefinition", () => def);
    return { ...a, unchanged: async () => expect((await http("http", "process-service", "admin", "GET", `/api/processes/${key}`)).status).toBe(404) };
  },
  "processes.list": (ch, who) => viaHttpOrGrpc(ch, who, "process-service", () => ["GET", "/api/processes"], "ProcessService/ListDefinitions", () => ({})),
  "processes.get": (ch, who) => viaHttpOrGrpc(ch, who, "process-service", () => ["GET", `/api/processes/${PROCESS}`], "ProcessService/GetDefinition", () => ({ key: PROCESS })),
  "processes.versions": (ch, who) => http(ch, "process-service", who, "GET", `/api/processes/${PROCESS}/versions`),
  "processes.version": (ch, who) => http(ch, "process-service", who, "GET", `/api/processes/${PROCESS}/versions/1`),
  "instances.start": async (ch, who) => {
    const key = fresh("start");
    const vars = { who: OWNER, tag: key };
    const a = await viaHttpOrGrpc(ch, who, "process-service", () => ["POST", `/api/processes/${PROCESS}/instances`, { variables: vars }], "ProcessService/StartInstance", () => ({ definition_key: PROCESS, variables: toStruct(vars) }));
    return { ...a, unchanged: async () => {
      const all = await asAdmin("process-service", "GET", `/api/processes/instances?definition_key=${PROCESS}&limit=1000`);
      expect(all.items.some((i: { variables: { tag?: string } }) => i.variables.tag === key)).toBe(false);
    } };
  },
  "instances.get": async (ch, who) => {
    const i = await newInstance();
    return viaHttpOrGrpc(ch, who, "process-service", () => ["GET", `/api/processes/instances/${i.id}`], "ProcessService/GetInstance", () => ({ id: i.id }));
  },
  "instances.list": async (ch, who) => {
    await newInstance();
    const a = await viaHttpOrGrpc(ch, who, "process-service", () => ["GET", "/api/processes/instances?limit=1000"], "ProcessService/ListInstances", () => ({ limit: 1000 }));
    const items: { started_by: number }[] | undefined = a.status === 200 ? (ch === "grpc" ? a.body.instances : a.body.items) : undefined;
    return { ...a, users: items?.map((i) => i.started_by) };
  },
  "instances.complete": async (ch, who) => {
    const i = await newInstance();
    const a = await viaHttpOrGrpc(ch, who, "process-service", () => ["POST", `/api/processes/instances/${i.id}/complete`, { step_id: "first", data: { note: "done" } }], "ProcessService/CompleteStep", () => ({ instance_id: i.id, step_id: "first", data: toStruct({ note: "done" }) }));
    return { ...a, unchanged: async () => expect(await readInstance(i.id)).toEqual(i) };
  },
  "instances.cancel": async (ch, who) => {
    const i = await newInstance();
    const a = await viaHttpOrGrpc(ch, who, "process-service", () => ["POST", `/api/processes/instances/${i.id}/cancel`, { reason: "no" }], "ProcessService/CancelInstance", () => ({ instance_id: i.id, reason: "no" }));
    return { ...a, unchanged: async () => expect(await readInstance(i.id)).toEqual(i) };
  },
  "admin.breakers": (ch, who) => http(ch, "process-service", who, "GET", "/admin/breakers"),
  "admin.breaker": async (ch, who) => {
    const name = ch === "gateway" ? "taskService" : "formService";
    const a = await http(ch, "process-service", who, "POST", `/admin/breakers/${name}`, { state: "DISABLED" });
    const stateNow = async () => (await http(ch, "process-service", "admin", "GET", "/admin/breakers")).body[name].state;
    if (a.status === 200) await http(ch, "process-service", "admin", "POST", `/admin/breakers/${name}`, { state: "CLOSED" });
    return { ...a, unchanged: async () => expect(await stateNow()).toBe("CLOSED") };
  },
  "open.health": (ch, who) => (ch === "grpc" ? unaryCall(who, "grpc.health.v1.Health/Check", { service: "" }) : http(ch, "task-service", who, "GET", "/health")),
  "open.metrics": (ch, who) => http(ch, "task-service", who, "GET", "/metrics"),
};

/**
 * A stream carries only what the caller may see: subscribe, make sure the subscription is live
 * (a task of the caller's own arrives), then the owner's task, then another of the caller's; once
 * that last one arrived, the owner's was either delivered before it or never will be.
 */
async function taskStream(ch: Channel, who: Caller): Promise<Answer> {
  const mine = USER_OF[who] ?? OWNER;
  const seen: { id: number; user_id: number }[] = [];
  let failed: Answer | undefined;
  let close: () => void;
  const arrived = (id: number) => seen.some((t) => t.id === id);
  if (ch === "grpc") {
    const s = streamCall(who, "TaskService/StreamTaskUpdates", {});
    s.on("data", (e: { task: { id: number; user_id: number } }) => seen.push(e.task));
    s.on("error", (err: grpc.ServiceError) => void (failed ??= { status: -1, grpcCode: err.code }));
    close = () => s.cancel();
  } else {
    const base = ch === "gateway" ? bpm.url("gateway") : bpm.url("task-service");
    const ac = new AbortController();
    const res = await fetch(`${base}/api/tasks/stream`, { headers: headersOf(who), signal: ac.signal });
    if (res.status !== 200) return { status: res.status };
    close = () => ac.abort();
    void (async () => {
      let text = "";
      try {
        for await (const chunk of res.body!) {
          text += new TextDecoder().decode(chunk);
          let end: number;
          while ((end = text.indexOf("\n\n")) >= 0) {
            const data = text.slice(0, end).split("\n").find((l) => l.startsWith("data:"));
            text = text.slice(end + 2);
            if (data) seen.push(JSON.parse(data.slice(5)).task);
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  const until = async (cond: () => boolean, make?: () => Promise<void>) => {
    for (let i = 0; !cond() && failed === undefined; i++) {
      if (i > 2000) throw new Error(`${who} on ${ch}: the stream never delivered`);
      if (make && i % 50 === 0) await make();
      await Bun.sleep(5);
    }
  };
  try {
    let probe = 0;
    await until(() => probe !== 0 && arrived(probe), async () => void (probe = (await newTask(mine)).id));
    if (failed) return failed;
    const owners = (await newTask(OWNER)).id;
    const last = (await newTask(mine)).id;
    await until(() => arrived(last));
    if (failed) return failed;
    return { status: 200, grpcCode: 0, users: seen.filter((t) => t.id === owners || t.id === last).map((t) => t.user_id) };
  } finally {
    close!();
  }
}

beforeAll(async () => {
  bpm = await startBpm();
  creds.none = undefined;
  creds.owner = `Bearer ${await token(OWNER)}`;
  creds.other = `Bearer ${await token(OTHER)}`;
  creds.designer = `Bearer ${await token(DESIGNER, { roles: ["designer"] })}`;
  creds.admin = `Bearer ${await token(ADMIN, { admin: true })}`;
  creds.service = `Bearer ${await token("service:process-service")}`;
  const designer = await authHeaders(DESIGNER, false, ["designer"]);
  const pub = await fetch(`${bpm.url("gateway")}/api/forms`, { method: "POST", headers: { ...designer, "content-type": "application/json" }, body: JSON.stringify({ key: FORM, title: "f", fields: [{ name: "note", type: "string" }] }) });
  expect(pub.status).toBe(201);
  const dep = await fetch(`${bpm.url("gateway")}/api/processes`, {
    method: "POST",
    headers: { ...designer, "content-type": "application/json" },
    body: JSON.stringify({ key: PROCESS, name: "p", steps: [{ id: "first", form_key: FORM, assignee: "${who}", default_next: "second" }, { id: "second", form_key: FORM, assignee: "${who}" }] }),
  });
  expect(dep.status).toBe(201);
});
afterAll(async () => {
  for (const c of clients.values()) c.close();
  await bpm?.stop();
});

const rows = docRows();

test("the table in docs/security.md and the checks here name the same rows", () => {
  expect(rows.length).toBeGreaterThan(25);
  expect(rows.map((r) => r.id).sort()).toEqual(Object.keys(CHECKS).sort());
});

describe.each(rows.map((r) => [r.id, r] as const))("%s", (_id, row) => {
  const channels: Channel[] = row.grpc ? ["gateway", "http", "grpc"] : ["gateway", "http"];
  test.each(channels.flatMap((ch) => CALLERS.map((who) => [ch, who] as const)))("via %s as %s", async (ch, who) => {
    const want = row.expect[who];
    const got = await CHECKS[row.id]!(ch, who);
    if (ch === "grpc") {
      // 200 and 201 are both OK
      expect({ code: got.grpcCode }).toEqual({ code: want.status < 300 ? 0 : grpcCodeForHttp(want.status) });
    } else {
      expect({ status: got.status, body: got.status === want.status ? undefined : got.body }).toEqual({ status: want.status, body: undefined });
    }
    if (want.status < 300 && want.scope !== undefined) {
      const users = got.users!;
      if (want.scope === "all") expect(users).toContain(OWNER);
      else expect(users.filter((u) => u !== USER_OF[who])).toEqual([]);
      if (who === "owner") expect(users).toContain(OWNER);
    }
    if (want.status >= 300 && got.unchanged) await got.unchanged();
  });
});
