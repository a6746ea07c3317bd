import { describe, expect, test } from "bun:test";
import * as protoLoader from "@grpc/proto-loader";
import { join } from "node:path";
import { fromStruct } from "../../../src/domain/forms/index.ts";
import {
  cancelInstance,
  completeStep,
  failInstance,
  instanceToWire,
  openTaskKey,
  parseInstance,
  parseProcessDefinition,
  startInstance,
  type ProcessInstance,
  type StoredProcessDefinition,
} from "../../../src/domain/process/index.ts";
import { FakeClock } from "../../../src/platform/clock.ts";
import { ConflictError, ForbiddenError, ValidationError } from "../../../src/platform/errors.ts";
import { leaveProcess } from "./leave-example.ts";

const EMPLOYEE = 11;
const MANAGER = 22;
const HR = 33;

async function stored(input: unknown, version = 1): Promise<StoredProcessDefinition> {
  return { ...(await parseProcessDefinition(input, () => true)), version, created_at: "2025-01-01T00:00:00.000Z" };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("did not throw");
}

const leave = await stored(leaveProcess);
const clock = new FakeClock(Date.parse("2025-06-02T08:00:00.000Z"));
const request = { start_date: "2025-07-01", days: 5, kind: "annual" };

function started(variables: Record<string, unknown> = { employee_id: EMPLOYEE, manager_id: MANAGER, hr_id: HR }): ProcessInstance {
  return deepFreeze(startInstance(leave, { id: "inst-1", variables: variables as never, startedBy: EMPLOYEE, now: clock.now() }).instance);
}

describe("the leave-request process", () => {
  test("start: the instance waits at the first step and asks for its assignee's task", () => {
    const { instance, effects } = startInstance(leave, {
      id: "inst-1", variables: { employee_id: EMPLOYEE, manager_id: MANAGER, hr_id: HR }, startedBy: EMPLOYEE, now: clock.now(),
    });
    expect(instance).toMatchObject({
      id: "inst-1", definition_key: "leave", definition_version: 1, status: "running",
      current_step: "request", current_assignee: EMPLOYEE, end_state: null, started_by: EMPLOYEE,
      created_at: "2025-06-02T08:00:00.000Z", revision: 1,
    });
    expect(effects).toEqual([{
      kind: "createTask", instanceId: "inst-1", stepId: "request", visit: 1,
      taskKey: "inst-1:request:1", idempotencyKey: "inst-1:request:1", assigneeUserId: EMPLOYEE,
      title: "Leave request: Request leave", priority: "medium",
      description: 'Step "request" of process leave v1 (instance inst-1); complete it by submitting form leave-request.',
    }]);
    expect(openTaskKey(instance)).toBe("inst-1:request:1");
  });

  test("approved: request → manager approval → HR record → ended in 'approved', history says who did what when", () => {
    let instance = started();
    let t = completeStep(leave, instance, { stepId: "request", userId: EMPLOYEE, data: request, now: clock.now() + 60_000, submissionId: "sub-1" });
    expect(t.instance.current_step).toBe("manager-approval");
    expect(t.effects).toEqual([
      { kind: "completeTask", instanceId: "inst-1", stepId: "request", visit: 1, taskKey: "inst-1:request:1", idempotencyKey: "inst-1:request:1:done", userId: EMPLOYEE },
      expect.objectContaining({ kind: "createTask", stepId: "manager-approval", assigneeUserId: MANAGER, priority: "high", idempotencyKey: "inst-1:manager-approval:1" }),
    ]);
    instance = deepFreeze(t.instance);

    t = completeStep(leave, instance, { stepId: "manager-approval", userId: MANAGER, data: { approved: true, manager_comment: "enjoy" }, now: clock.now() + 120_000 });
    expect(t.instance.current_step).toBe("hr-record");
    expect(t.effects.map((e) => [e.kind, e.stepId])).toEqual([["completeTask", "manager-approval"], ["createTask", "hr-record"]]);
    instance = deepFreeze(t.instance);

    t = completeStep(leave, instance, { stepId: "hr-record", userId: HR, data: { hr_reference: "HR-2025" }, now: clock.now() + 180_000 });
    expect(t.instance).toMatchObject({ status: "completed", end_state: "approved", current_step: null, current_assignee: null, revision: 4, updated_at: "2025-06-02T08:03:00.000Z" });
    expect(t.effects.map((e) => e.kind)).toEqual(["completeTask"]);
    expect(t.instance.variables).toEqual({
      employee_id: EMPLOYEE, manager_id: MANAGER, hr_id: HR, ...request, approved: true, manager_comment: "enjoy", hr_reference: "HR-2025",
    });
    expect(t.instance.history.map((h) => [h.action, h.step_id, h.user_id, h.at.slice(11, 19)])).toEqual([
      ["started", "", EMPLOYEE, "08:00:00"],
      ["assigned", "request", EMPLOYEE, "08:00:00"],
      ["completed", "request", EMPLOYEE, "08:01:00"],
      ["assigned", "manager-approval", MANAGER, "08:01:00"],
      ["completed", "manager-approval", MANAGER, "08:02:00"],
      ["assigned", "hr-record", HR, "08:02:00"],
      ["completed", "hr-record", HR, "08:03:00"],
      ["ended", "approved", 0, "08:03:00"],
    ]);
    expect(t.instance.history[2]).toMatchObject({ data: request, submission_id: "sub-1" });
  });

  test("rejected: the rule `approved == false` ends the instance in 'rejected' and no HR task is made", () => {
    const afterRequest = completeStep(leave, started(), { stepId: "request", userId: EMPLOYEE, data: request, now: clock.now() }).instance;
    const t = completeStep(leave, afterRequest, { stepId: "manager-approval", userId: MANAGER, data: { approved: false }, now: clock.now() });
    expect(t.instance).toMatchObject({ status: "completed", end_state: "rejected", current_step: null });
    expect(t.effects).toEqual([expect.objectContaining({ kind: "completeTask", stepId: "manager-approval" })]);
  });

  test("the assignee comes from a variable, which a step's submitted data can supply", async () => {
    const def = await stored({
      key: "delegate",
      steps: [
        { id: "pick", form_key: "f", assignee: "${requester}", default_next: "act" },
        { id: "act", form_key: "f", assignee: "${delegate.user}" },
      ],
    });
    const start = startInstance(def, { id: "i", variables: { requester: "5" }, startedBy: 5, now: 0 });
    expect(start.instance.current_assignee).toBe(5);
    const t = completeStep(def, start.instance, { stepId: "pick", userId: 5, data: { delegate: { user: 42 } }, now: 1 });
    expect(t.effects[1]).toMatchObject({ kind: "createTask", stepId: "act", assigneeUserId: 42 });
  });

  test("a missing or unusable assignee variable is a 400 naming it, and nothing changes", () => {
    const err = thrown(() => startInstance(leave, { id: "i", variables: { manager_id: MANAGER }, startedBy: EMPLOYEE, now: 0 }));
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.message).toBe('step "request": cannot assign: variable employee_id is not set');
    expect((err as ValidationError).details).toEqual([{ path: "variables.employee_id", step: "request", message: "variable employee_id is not set" }]);

    const instance = started({ employee_id: EMPLOYEE, manager_id: "the boss" });
    const err2 = thrown(() => completeStep(leave, instance, { stepId: "request", userId: EMPLOYEE, data: request, now: 0 }));
    expect(err2).toBeInstanceOf(ValidationError);
    expect(err2.message).toBe('step "manager-approval": cannot assign: variable manager_id is "the boss", not a user id');
    expect(instance.current_step).toBe("request");
  });

  test("only the assignee may complete a step: anyone else gets 403", () => {
    const err = thrown(() => completeStep(leave, started(), { stepId: "request", userId: MANAGER, data: request, now: 0 }));
    expect(err).toBeInstanceOf(ForbiddenError);
    expect((err as ForbiddenError).httpStatus).toBe(403);
  });

  test("completing a step that is not current is 409, even for its future assignee", () => {
    const err = thrown(() => completeStep(leave, started(), { stepId: "manager-approval", userId: MANAGER, data: { approved: true }, now: 0 }));
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).httpStatus).toBe(409);
    expect((err as ConflictError).code).toBe("STEP_NOT_CURRENT");
  });

  test("a step completed twice (a retry after success) is 409 the second time", () => {
    const once = completeStep(leave, started(), { stepId: "request", userId: EMPLOYEE, data: request, now: 0 }).instance;
    expect(thrown(() => completeStep(leave, once, { stepId: "request", userId: EMPLOYEE, data: request, now: 0 }))).toBeInstanceOf(ConflictError);
  });

  test("cancel: the instance stops, its open task is cancelled, and nothing more can happen", () => {
    const instance = started();
    const t = cancelInstance(leave, instance, { userId: EMPLOYEE, reason: "plans changed", now: clock.now() + 5_000 });
    expect(t.instance).toMatchObject({ status: "cancelled", current_step: null, current_assignee: null, revision: 2 });
    expect(t.instance.history.at(-1)).toEqual({ step_id: "request", action: "cancelled", user_id: EMPLOYEE, at: "2025-06-02T08:00:05.000Z", note: "plans changed" });
    expect(t.effects).toEqual([{
      kind: "cancelTask", instanceId: "inst-1", stepId: "request", visit: 1, taskKey: "inst-1:request:1",
      idempotencyKey: "inst-1:request:1:cancelled", reason: "plans changed",
    }]);
    const again = thrown(() => cancelInstance(leave, t.instance, { userId: EMPLOYEE, now: 0 }));
    expect(again).toBeInstanceOf(ConflictError);
    expect((again as ConflictError).code).toBe("INSTANCE_NOT_RUNNING");
    expect(thrown(() => completeStep(leave, t.instance, { stepId: "request", userId: EMPLOYEE, data: request, now: 0 }))).toBeInstanceOf(ConflictError);
  });

  test("fail: like cancel but by the engine, with the reason kept", () => {
    const t = failInstance(leave, started(), { reason: "task-service refused the task: user 11 unknown", now: 0 });
    expect(t.instance.status).toBe("failed");
    expect(t.instance.history.at(-1)).toMatchObject({ action: "failed", user_id: 0, note: "task-service refused the task: user 11 unknown" });
    expect(t.effects.map((e) => e.kind)).toEqual(["cancelTask"]);
  });

  test("bad input to start is a 400: the starter must be a user id, variables an object", () => {
    expect(thrown(() => startInstance(leave, { id: "i", startedBy: 0, now: 0 }))).toBeInstanceOf(ValidationError);
    expect(thrown(() => startInstance(leave, { id: "i", startedBy: 1.5, now: 0 }))).toBeInstanceOf(ValidationError);
    expect(thrown(() => startInstance(leave, { id: "i", variables: [1] as never, startedBy: 1, now: 0 }))).toBeInstanceOf(ValidationError);
  });
});

describe("idempotency keys", () => {
  test("the same change computed twice (a redelivered request) yields the same task keys", () => {
    const instance = started();
    const a = completeStep(leave, instance, { stepId: "request", userId: EMPLOYEE, data: request, now: 1 });
    const b = completeStep(leave, instance, { stepId: "request", userId: EMPLOYEE, data: request, now: 2 });
    expect(a.effects.map((e) => e.idempotencyKey)).toEqual(b.effects.map((e) => e.idempotencyKey));
  });

  test("a loop that comes back to a step gets a new task (visit 2), never the old one", async () => {
    const def = await stored({
      key: "rework",
      steps: [
        { id: "draft", form_key: "f", assignee: "1", default_next: "review" },
        { id: "review", form_key: "f", assignee: "2", transitions: [{ condition: "approved", target: "end" }], default_next: "draft" },
      ],
    });
    let t = startInstance(def, { id: "r", startedBy: 1, now: 0 });
    t = completeStep(def, t.instance, { stepId: "draft", userId: 1, data: { text: "v1" }, now: 1 });
    t = completeStep(def, t.instance, { stepId: "review", userId: 2, data: { approved: false }, now: 2 });
    expect(t.effects).toEqual([
      expect.objectContaining({ kind: "completeTask", taskKey: "r:review:1" }),
      expect.objectContaining({ kind: "createTask", stepId: "draft", visit: 2, idempotencyKey: "r:draft:2" }),
    ]);
    t = completeStep(def, t.instance, { stepId: "draft", userId: 1, data: { text: "v2" }, now: 3 });
    expect(t.effects[0]).toMatchObject({ kind: "completeTask", taskKey: "r:draft:2" });
    t = completeStep(def, t.instance, { stepId: "review", userId: 2, data: { approved: true }, now: 4 });
    expect(t.instance).toMatchObject({ status: "completed", end_state: "end" });
  });
});

describe("storage and wire shapes", () => {
  test("an instance survives JSON storage and parses back unchanged", () => {
    const t = completeStep(leave, started(), { stepId: "request", userId: EMPLOYEE, data: request, now: 0, submissionId: "s" });
    expect(parseInstance(JSON.parse(JSON.stringify(t.instance)))).toEqual(t.instance);
    expect(() => parseInstance({ ...t.instance, status: "paused" })).toThrow();
  });

  test("instanceToWire serializes as processservice.ProcessInstance with Struct variables", () => {
    const pd = protoLoader.loadSync(join(import.meta.dir, "../../../protos/process.proto"), { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    const method = (pd["processservice.ProcessService"] as Record<string, { responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): Record<string, any> }>).GetInstance!;
    const t = completeStep(leave, started(), { stepId: "request", userId: EMPLOYEE, data: request, now: 0, submissionId: "s" });
    const wire = method.responseDeserialize(method.responseSerialize(instanceToWire(t.instance)));
    expect(wire).toMatchObject({ id: "inst-1", status: "running", current_step: "manager-approval", current_assignee: MANAGER, end_state: "" });
    expect(fromStruct(wire.variables)).toEqual(t.instance.variables);
    expect(fromStruct(wire.history[2].data)).toEqual(request);
    expect(wire.history[2].submission_id).toBe("s");
  });
});
