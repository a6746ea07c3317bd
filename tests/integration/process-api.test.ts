import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { adminHeaders, authHeaders, json, postJson, startBpm, type BpmProcess } from "../support/bpm.ts";
import { deployLeave, eventually, grpcurl, LEAVE_VARIABLES, leaveProcess, type TaskView } from "./process-helpers.ts";

// Every role in one process, as `./bpm` runs by default; users act through the gateway with their own tokens.
let bpm: BpmProcess;
let gw: string;
let grpcAddr: string;
const as: Record<"alice" | "bob" | "carol" | "mallory", Record<string, string>> = {} as never;
/** Reads every task of an instance (a user sees only their own). */
let admin: Record<string, string>;
const ALICE = 11; // employee
const BOB = 22; // manager
const CAROL = 33; // HR

beforeAll(async () => {
  bpm = await startBpm();
  gw = bpm.url("gateway");
  grpcAddr = `127.0.0.1:${bpm.ports["process-service"].grpc}`;
  as.alice = await authHeaders(ALICE);
  as.bob = await authHeaders(BOB, false, ["designer"]);
  admin = await adminHeaders();
  as.carol = await authHeaders(CAROL);
  as.mallory = await authHeaders(66);
  await deployLeave({ forms: gw, processes: gw }, as.bob);
});
afterAll(() => bpm?.stop());

type Instance = { id: string; status: string; current_step: string | null; current_assignee: number | null; end_state: string | null; revision: number; variables: Record<string, unknown>; history: { action: string; step_id: string; user_id: number; data?: unknown; submission_id?: string; note?: string }[] };

async function start(variables: Record<string, unknown> = LEAVE_VARIABLES, who = as.alice, extra: Record<string, string> = {}) {
  return json<Instance>(postJson(`${gw}/api/processes/leave/instances`, { variables }, { ...who, ...extra }));
}
/** An instance, or the error body when the request was refused. */
type Answer = Instance & { code?: string; error?: string; details?: { field: string; code: string }[] };
const complete = (id: string, step_id: string, data: unknown, who: Record<string, string>) => json<Answer>(postJson(`${gw}/api/processes/instances/${id}/complete`, { step_id, data }, who));
const getInstance = async (id: string) => (await json<Instance>(fetch(`${gw}/api/processes/instances/${id}`, { headers: as.alice }))).body;
const tasksOf = async (id: string) => (await json<{ items: TaskView[] }>(fetch(`${gw}/api/tasks?process_instance_id=${id}`, { headers: admin }))).body.items;
/** The step's tasks as task-service holds them, once the outbox delivered `count` of them with those statuses. */
const tasksSettle = (id: string, expected: [string, string][]) =>
  eventually(`tasks of ${id} = ${JSON.stringify(expected)}`, async () => {
    const t = (await tasksOf(id)).map((x) => [x.step_id, x.status]);
    return JSON.stringify(t) === JSON.stringify(expected) ? t : undefined;
  }, 10_000);

describe("deploying process definitions", () => {
  test("a form that form-service does not know, a dangling target and a stuck cycle are 400, each named", async () => {
    const r = await json(postJson(`${gw}/api/processes`, {
      key: "broken",
      steps: [
        { id: "a", form_key: "leave-request", assignee: "7", default_next: "b" },
        { id: "b", form_key: "no-such-form", assignee: "7", transitions: [{ condition: "x == 1", target: "nowhere" }], default_next: "a" },
      ],
    }, as.bob));
    expect(r.status).toBe(400);
    expect(r.body.details).toEqual(expect.arrayContaining([
      expect.objectContaining({ path: "steps[1].form_key", step: "b", message: 'form "no-such-form" does not exist' }),
      expect.objectContaining({ path: "steps[1].transitions[0].target", step: "b" }),
    ]));
    const loop = await json(postJson(`${gw}/api/processes`, {
      key: "loop",
      steps: [
        { id: "a", form_key: "leave-request", assignee: "7", default_next: "b" },
        { id: "b", form_key: "leave-request", assignee: "7", default_next: "a" },
      ],
    }, as.bob));
    expect(loop.status).toBe(400);
    expect(loop.body.error).toContain("cycle with no path to an end");
  });

  test("deploying the same content again keeps the version; a change makes the next one", async () => {
    const same = await json(postJson(`${gw}/api/processes`, leaveProcess, as.bob));
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ created: false, definition: { key: "leave", version: 1 } });
    const key = `leave-copy-${crypto.randomUUID().slice(0, 6)}`;
    expect((await json(postJson(`${gw}/api/processes`, { ...leaveProcess, key }, as.bob))).status).toBe(201);
    const v2 = await json(postJson(`${gw}/api/processes`, { ...leaveProcess, key, name: "Leave (v2)" }, as.bob));
    expect(v2.body).toMatchObject({ created: true, definition: { version: 2, name: "Leave (v2)" } });
    expect((await json(fetch(`${gw}/api/processes/${key}/versions`, { headers: as.bob }))).body.items.map((d: { version: number }) => d.version)).toEqual([2, 1]);
    expect((await json(fetch(`${gw}/api/processes/${key}?version=1`, { headers: as.bob }))).body.name).toBe("Leave request");
  });

  test("'instances' cannot be a process key (it names the instances resource)", async () => {
    const r = await json(postJson(`${gw}/api/processes`, { ...leaveProcess, key: "instances" }, as.bob));
    expect(r.status).toBe(400);
    expect(r.body.details[0].path).toBe("key");
  });
});

describe("running the leave process through the gateway", () => {
  test("approved: three steps by three users, a task per step in task-service, each done in turn", async () => {
    const started = await start();
    expect(started.status).toBe(201);
    expect(started.headers.get("location")).toBe(`/api/processes/instances/${started.body.id}`);
    const id = started.body.id;
    expect(started.body).toMatchObject({ status: "running", current_step: "request", current_assignee: ALICE });
    const [task] = await tasksSettle(id, [["request", "todo"]]);
    expect(task).toBeDefined();
    expect((await tasksOf(id))[0]).toMatchObject({ user_id: ALICE, title: "Leave request: Request leave" });

    const r1 = await complete(id, "request", { start_date: "2025-07-01", days: 3 }, as.alice);
    expect(r1.status).toBe(200);
    expect(r1.body).toMatchObject({ current_step: "manager-approval", current_assignee: BOB, variables: { ...LEAVE_VARIABLES, start_date: "2025-07-01", days: 3, kind: "annual" } });
    await tasksSettle(id, [["request", "done"], ["manager-approval", "todo"]]);
    expect((await tasksOf(id))[1]).toMatchObject({ user_id: BOB, priority: "high" });

    expect((await complete(id, "manager-approval", { approved: true }, as.bob)).body.current_step).toBe("hr-record");
    const r3 = await complete(id, "hr-record", { hr_reference: "HR-1234" }, as.carol);
    expect(r3.body).toMatchObject({ status: "completed", end_state: "approved", current_step: null });
    expect(r3.body.history.map((h) => `${h.action}:${h.step_id}:${h.user_id}`)).toEqual([
      `started::${ALICE}`, `assigned:request:${ALICE}`, `completed:request:${ALICE}`, `assigned:manager-approval:${BOB}`,
      `completed:manager-approval:${BOB}`, `assigned:hr-record:${CAROL}`, `completed:hr-record:${CAROL}`, "ended:approved:0",
    ]);
    // each completion's data was stored by form-service as a submission tied to the instance and step
    const sub = r3.body.history.find((h) => h.action === "completed" && h.step_id === "hr-record")!;
    const stored = await json(fetch(`${gw}/api/forms/submissions/${sub.submission_id}`, { headers: as.carol }));
    expect(stored.body).toMatchObject({ form_key: "leave-record", data: { hr_reference: "HR-1234" }, submitted_by: CAROL, process_instance_id: id, step_id: "hr-record" });
    await tasksSettle(id, [["request", "done"], ["manager-approval", "done"], ["hr-record", "done"]]);
  });

  test("rejected: the rule on approved ends the instance in 'rejected' and no HR task is made", async () => {
    const id = (await start()).body.id;
    await complete(id, "request", { start_date: "2025-07-01", days: 3 }, as.alice);
    const r = await complete(id, "manager-approval", { approved: false, manager_comment: "busy week" }, as.bob);
    expect(r.body).toMatchObject({ status: "completed", end_state: "rejected" });
    await tasksSettle(id, [["request", "done"], ["manager-approval", "done"]]);
  });

  test("only the assignee may complete (403; 404 to who takes no part); a step that is not current is 409; invalid data is 422 — none of them change anything", async () => {
    const id = (await start()).body.id;
    const before = await getInstance(id);
    const stranger = await complete(id, "request", { start_date: "2025-07-01", days: 3 }, as.bob);
    expect(stranger.status).toBe(404);
    expect(stranger.body).toMatchObject({ code: "NOT_FOUND" });
    const notCurrent = await complete(id, "hr-record", { hr_reference: "HR-1234" }, as.alice);
    expect(notCurrent.status).toBe(409);
    expect(notCurrent.body).toMatchObject({ code: "STEP_NOT_CURRENT" });
    const invalid = await complete(id, "request", { start_date: "2025-13-01", days: 0, extra: true }, as.alice);
    expect(invalid.status).toBe(422);
    expect(invalid.body.code).toBe("FORM_VALIDATION_FAILED");
    expect(invalid.body.details!.map((d: { field: string; code: string }) => `${d.field}:${d.code}`)).toEqual(["start_date:date", "days:min", "extra:unknown_field"]);
    expect(await getInstance(id)).toEqual(before);

    expect((await complete(id, "request", { start_date: "2025-07-01", days: 3 }, as.alice)).status).toBe(200);
    // alice takes part, but the manager's step is bob's
    const forbidden = await complete(id, "manager-approval", { approved: true }, as.alice);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ code: "FORBIDDEN" });
    const twice = await complete(id, "request", { start_date: "2025-07-01", days: 3 }, as.alice);
    expect(twice.status).toBe(409);
    expect(twice.body.code).toBe("STEP_NOT_CURRENT");
  });

  test("two simultaneous completions of one step: exactly one wins, the other is 409", async () => {
    const id = (await start()).body.id;
    const results = await Promise.all([
      complete(id, "request", { start_date: "2025-07-01", days: 3 }, as.alice),
      complete(id, "request", { start_date: "2025-07-02", days: 4 }, as.alice),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const after = await getInstance(id);
    expect(after.history.filter((h) => h.action === "completed")).toHaveLength(1);
    await tasksSettle(id, [["request", "done"], ["manager-approval", "todo"]]);
  });

  test("cancel: a stranger gets 404; the starter cancels and the open task is cancelled; afterwards 409", async () => {
    const id = (await start()).body.id;
    await complete(id, "request", { start_date: "2025-07-01", days: 3 }, as.alice);
    await tasksSettle(id, [["request", "done"], ["manager-approval", "todo"]]);
    const stranger = await json(postJson(`${gw}/api/processes/instances/${id}/cancel`, { reason: "no" }, as.mallory));
    expect(stranger.status).toBe(404);
    const r = await json<Instance>(postJson(`${gw}/api/processes/instances/${id}/cancel`, { reason: "plans changed" }, as.alice));
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: "cancelled", current_step: null });
    expect(r.body.history.at(-1)).toMatchObject({ action: "cancelled", step_id: "manager-approval", user_id: ALICE, note: "plans changed" });
    await tasksSettle(id, [["request", "done"], ["manager-approval", "cancelled"]]);
    expect((await json(postJson(`${gw}/api/processes/instances/${id}/cancel`, {}, as.alice))).status).toBe(409);
    const late = await complete(id, "manager-approval", { approved: true }, as.bob);
    expect(late.status).toBe(409);
    expect(late.body.code).toBe("INSTANCE_NOT_RUNNING");
  });

  test("start: an unusable assignee variable is 400 naming it and creates nothing; an unknown process is 404; a repeated idempotency key returns the first instance", async () => {
    const marker = `probe-${crypto.randomUUID()}`;
    const bad = await start({ manager_id: 22, marker });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ details: [expect.objectContaining({ path: "variables.employee_id" })] });
    const listed = await json(fetch(`${gw}/api/processes/instances?definition_key=leave&started_by=${ALICE}&limit=1000`, { headers: as.alice }));
    expect(listed.body.items.some((i: Instance) => i.variables.marker === marker)).toBe(false);

    expect((await json(postJson(`${gw}/api/processes/nope/instances`, { variables: {} }, as.alice))).status).toBe(404);

    const key = { "idempotency-key": `start-${crypto.randomUUID()}` };
    const first = await start(LEAVE_VARIABLES, as.alice, key);
    const second = await start(LEAVE_VARIABLES, as.alice, key);
    expect([first.status, second.status]).toEqual([201, 200]);
    expect(second.body.id).toBe(first.body.id);
  });

  test("instances can be listed by assignee and status", async () => {
    const dave = 4242;
    const id = (await start({ employee_id: dave, manager_id: BOB, hr_id: CAROL })).body.id;
    const mine = await json(fetch(`${gw}/api/processes/instances?assignee=${dave}&status=running`, { headers: await authHeaders(dave) }));
    expect(mine.body.items.map((i: Instance) => i.id)).toEqual([id]);
    expect(mine.body.total).toBe(1);
    // alice started it, but another user's queue is not hers to read
    const notHers = await json(fetch(`${gw}/api/processes/instances?assignee=${dave}&status=running`, { headers: as.alice }));
    expect(notHers.body).toMatchObject({ items: [], total: 0 });
    const started = await json(fetch(`${gw}/api/processes/instances?status=running&limit=1000`, { headers: as.alice }));
    expect(started.body.items.map((i: Instance) => i.id)).toContain(id);
    expect(started.body.items.every((i: Instance & { started_by: number }) => i.started_by === ALICE)).toBe(true);
    expect((await json(fetch(`${gw}/api/processes/instances?status=paused`, { headers: as.alice }))).status).toBe(400);
  });
});

describe("processservice.ProcessService with grpcurl (reflection, Struct variables)", () => {
  test("lists and describes the service", async () => {
    const list = await grpcurl([grpcAddr, "list"]);
    expect(list.code).toBe(0);
    expect(list.out.split("\n")).toEqual(expect.arrayContaining(["processservice.ProcessService", "grpc.health.v1.Health"]));
    const d = await grpcurl([grpcAddr, "describe", "processservice.ProcessService"]);
    expect(d.out).toContain("rpc CompleteStep ( .processservice.CompleteStepRequest ) returns ( .processservice.ProcessInstance )");
    const m = await grpcurl([grpcAddr, "describe", "processservice.StartInstanceRequest"]);
    expect(m.out).toContain(".google.protobuf.Struct variables = 3;");
  });

  test("start with nested variables, complete with Struct data, read the history back; a user who takes no part is NotFound", async () => {
    const H = (who: Record<string, string>) => ["-H", `authorization: ${who.authorization}`];
    const variables = { ...LEAVE_VARIABLES, org: { unit: "R&D", levels: [1, "two", null, true] } };
    const s = await grpcurl([...H(as.alice), "-d", "@", grpcAddr, "processservice.ProcessService/StartInstance"], JSON.stringify({ definition_key: "leave", variables }));
    expect(s.code).toBe(0);
    const started = JSON.parse(s.out);
    expect(started).toMatchObject({ definition_key: "leave", definition_version: 1, status: "running", current_step: "request", current_assignee: ALICE, variables, started_by: ALICE });

    const stranger = await grpcurl([...H(as.bob), "-d", JSON.stringify({ instance_id: started.id, step_id: "request", data: { start_date: "2025-07-01", days: 3 } }), grpcAddr, "processservice.ProcessService/CompleteStep"]);
    expect(stranger.code).not.toBe(0);
    expect(stranger.err).toContain("NotFound");
    const forOther = await grpcurl([...H(as.alice), "-d", JSON.stringify({ instance_id: started.id, step_id: "request", user_id: BOB, data: { start_date: "2025-07-01", days: 3 } }), grpcAddr, "processservice.ProcessService/CompleteStep"]);
    expect(forOther.code).not.toBe(0);
    expect(forOther.err).toContain("PermissionDenied");
    const anonymous = await grpcurl(["-d", JSON.stringify({ id: started.id }), grpcAddr, "processservice.ProcessService/GetInstance"]);
    expect(anonymous.err).toContain("Unauthenticated");

    const c = await grpcurl([...H(as.alice), "-d", JSON.stringify({ instance_id: started.id, step_id: "request", data: { start_date: "2025-07-01", days: 3 } }), grpcAddr, "processservice.ProcessService/CompleteStep"]);
    expect(c.code).toBe(0);
    expect(JSON.parse(c.out)).toMatchObject({ current_step: "manager-approval", current_assignee: BOB });

    const g = await grpcurl([...H(as.alice), "-d", JSON.stringify({ id: started.id }), grpcAddr, "processservice.ProcessService/GetInstance"]);
    const history = JSON.parse(g.out).history;
    expect(history.find((h: { action: string }) => h.action === "completed")).toMatchObject({ step_id: "request", user_id: ALICE, data: { start_date: "2025-07-01", days: 3, kind: "annual" } });

    const list = await grpcurl([...H(as.bob), "-d", JSON.stringify({ assignee: BOB, status: "running", limit: 1000 }), grpcAddr, "processservice.ProcessService/ListInstances"]);
    expect(JSON.parse(list.out).instances.some((i: { id: string }) => i.id === started.id)).toBe(true);
  });

  test("GetDefinition shows the steps and rules", async () => {
    const d = await grpcurl(["-H", `authorization: ${as.mallory.authorization}`, "-d", JSON.stringify({ key: "leave" }), grpcAddr, "processservice.ProcessService/GetDefinition"]);
    expect(d.code).toBe(0);
    const def = JSON.parse(d.out);
    expect(def.steps.map((s: { id: string }) => s.id)).toEqual(["request", "manager-approval", "hr-record"]);
    expect(def.steps[1].transitions).toEqual([{ condition: "approved == false", target: "rejected" }]);
  });
});
