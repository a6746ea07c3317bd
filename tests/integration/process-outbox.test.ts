import { afterEach, describe, expect, test } from "bun:test";
import { adminHeaders, json, postJson, type BpmProcess } from "../support/bpm.ts";
import { allocatePorts, allTasks, deployLeave, eventually, LEAVE_VARIABLES, outboxOf, QUICK_RECOVERY, startRoles, type Ports } from "./process-helpers.ts";

/** Direct calls to a role carry a credential: an admin acts for the user a body names. */
const ADMIN = await adminHeaders();

// Each role in its own process, so one can be stopped or killed while the others run.
// Requests go straight to process-service (no gateway), naming the user in the body.
const config = QUICK_RECOVERY;
const running: BpmProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.kill()));
});

async function role(name: "task-service" | "form-service" | "process-service", ports: Ports, dataDir?: string): Promise<BpmProcess> {
  const p = await startRoles([name], ports, { config, dataDir });
  running.push(p);
  return p;
}

const startInstance = (processUrl: string, employee = 11) =>
  json<{ id: string }>(postJson(`${processUrl}/api/processes/leave/instances`, { variables: { ...LEAVE_VARIABLES, employee_id: employee }, started_by: employee }, ADMIN));

async function startMany(processUrl: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 25) {
    const batch = await Promise.all(Array.from({ length: Math.min(25, n - i) }, () => startInstance(processUrl)));
    for (const r of batch) {
      expect(r.status).toBe(201);
      ids.push(r.body.id);
    }
  }
  return ids;
}

const drained = (processUrl: string) => eventually("outbox drained", async () => ((await outboxOf(processUrl)).pending === 0 ? true : undefined), 45_000);

/** Task count straight from task-service, as fast as it answers: the moment dispatch has begun. */
async function waitForFirstTasks(taskUrl: string, moreThan: number): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    const r = await json<{ total: number }>(fetch(`${taskUrl}/api/tasks?limit=1`, { headers: ADMIN }));
    if (r.body.total > moreThan) return;
  }
  throw new Error("dispatch never started");
}

function tasksByInstance(tasks: { process_instance_id: string; step_id: string; status: string }[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of tasks) out.set(t.process_instance_id, [...(out.get(t.process_instance_id) ?? []), `${t.step_id}:${t.status}`]);
  return out;
}

describe("nothing is lost between process-service and task-service", () => {
  test("50 instances started while task-service is down are all accepted; once it is up, exactly 50 tasks, no duplicates", async () => {
    const ports = await allocatePorts();
    const forms = await role("form-service", ports);
    const proc = await role("process-service", ports);
    const P = proc.url("process-service");
    await deployLeave({ forms: forms.url("form-service"), processes: P });

    const ids = await startMany(P, 50);
    expect(new Set(ids).size).toBe(50);
    expect((await outboxOf(P)).pending).toBe(50);

    const tasks = await role("task-service", ports);
    await drained(P);
    const all = await allTasks(tasks.url("task-service"));
    expect(all).toHaveLength(50);
    expect(new Set(all.map((t) => t.process_instance_id))).toEqual(new Set(ids));
    expect(all.every((t) => t.step_id === "request" && t.status === "todo" && t.user_id === 11)).toBe(true);
    expect((await outboxOf(P)).dead).toBe(0);
  }, 90_000);

  test("kill -9 of process-service in the middle of dispatch: after a restart still exactly one task per step", async () => {
    const n = 300;
    const ports = await allocatePorts();
    const forms = await role("form-service", ports);
    let proc = await role("process-service", ports);
    const P = proc.url("process-service");
    await deployLeave({ forms: forms.url("form-service"), processes: P });

    // creates pile up while task-service is down, then dispatch starts and process-service dies during it
    const ids = await startMany(P, n);
    let tasks = await role("task-service", ports);
    const T = tasks.url("task-service");
    await waitForFirstTasks(T, 0);
    await proc.kill();
    expect((await allTasks(T)).length).toBeLessThan(n);

    proc = await role("process-service", ports, proc.dataDir);
    await drained(P);
    let byInstance = tasksByInstance(await allTasks(T));
    expect(byInstance.size).toBe(n);
    for (const id of ids) expect(byInstance.get(id)).toEqual(["request:todo"]);

    // the same for completions: each writes "task done" and the next step's create
    await tasks.stop();
    for (let i = 0; i < n; i += 25) {
      const batch = await Promise.all(ids.slice(i, i + 25).map((id) =>
        json(postJson(`${P}/api/processes/instances/${id}/complete`, { step_id: "request", user_id: 11, data: { start_date: "2025-07-01", days: 2 } }, ADMIN))));
      for (const r of batch) expect(r.status).toBe(200);
    }
    expect((await outboxOf(P)).pending).toBe(2 * n);
    tasks = await role("task-service", ports, tasks.dataDir);
    await waitForFirstTasks(T, n);
    await proc.kill();

    proc = await role("process-service", ports, proc.dataDir);
    await drained(P);
    const all = await allTasks(T);
    expect(all).toHaveLength(2 * n);
    byInstance = tasksByInstance(all);
    for (const id of ids) expect(byInstance.get(id)).toEqual(["request:done", "manager-approval:todo"]);
    expect((await outboxOf(P)).dead).toBe(0);
  }, 120_000);

  test("form-service down: completing a step fails cleanly with 503 and changes nothing; once it is back the step completes", async () => {
    const ports = await allocatePorts();
    let forms = await role("form-service", ports);
    const tasks = await role("task-service", ports);
    const proc = await role("process-service", ports);
    const P = proc.url("process-service");
    const T = tasks.url("task-service");
    await deployLeave({ forms: forms.url("form-service"), processes: P });
    const id = (await startInstance(P)).body.id;
    await drained(P);
    const before = (await json(fetch(`${P}/api/processes/instances/${id}`, { headers: ADMIN }))).body;
    const tasksBefore = await allTasks(T);

    await forms.kill();
    const body = { step_id: "request", user_id: 11, data: { start_date: "2025-07-01", days: 2 } };
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = await json(postJson(`${P}/api/processes/instances/${id}/complete`, body, ADMIN));
      expect(r.status).toBe(503);
      expect(["UNAVAILABLE", "NO_HEALTHY_INSTANCE", "CIRCUIT_OPEN"]).toContain(r.body.code);
      expect(r.headers.get("retry-after")).not.toBeNull();
    }
    expect((await json(fetch(`${P}/api/processes/instances/${id}`, { headers: ADMIN }))).body).toEqual(before);
    expect(await allTasks(T)).toEqual(tasksBefore);
    expect(await outboxOf(P)).toMatchObject({ pending: 0, dead: 0 });

    forms = await role("form-service", ports, forms.dataDir);
    const done = await eventually("completion after form-service is back", async () => {
      const r = await json(postJson(`${P}/api/processes/instances/${id}/complete`, body, ADMIN));
      return r.status === 200 ? r.body : undefined;
    });
    expect(done).toMatchObject({ current_step: "manager-approval", revision: before.revision + 1 });
    await drained(P);
    expect(tasksByInstance(await allTasks(T)).get(id)).toEqual(["request:done", "manager-approval:todo"]);
  }, 90_000);
});
