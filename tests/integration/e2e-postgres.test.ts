import { afterAll, expect, test } from "bun:test";
import { adminHeaders, authHeaders, freePort, json, postJson, startBpm, type BpmProcess } from "../support/bpm.ts";
import { startPostgres, type PostgresServer } from "../support/servers.ts";
import { allocatePorts, deployLeave, eventually, LEAVE_VARIABLES } from "./process-helpers.ts";

/** Direct calls to a role carry a credential: an admin acts for the user a body names. */
const ADMIN = await adminHeaders();

const procs: BpmProcess[] = [];
let pg: PostgresServer | undefined;
afterAll(async () => {
  for (const p of procs.reverse()) await p.stop().catch(() => p.kill());
  await pg?.stop();
});

test("a leave request runs end to end through the gateway, every role its own process on PostgreSQL, 2 task-service replicas", async () => {
  pg = await startPostgres();
  const env = { DATABASE_URL: pg.url };
  const ports = await allocatePorts();
  const replicaB = { http: await freePort(), grpc: await freePort() };
  const taskInstances = [
    { address: "127.0.0.1", port: ports["task-service"].http, grpc_port: ports["task-service"].grpc },
    { address: "127.0.0.1", port: replicaB.http, grpc_port: replicaB.grpc },
  ];
  const config = { discovery: { static: { "task-service": taskInstances } }, load_balancer: { algorithm: "round_robin", sticky_sessions: { enabled: false } } };
  // both replicas start at once against one fresh database (migrations under an advisory lock)
  const [taskA, taskB] = await Promise.all([
    startBpm({ roles: ["task-service"], ports, env, config }),
    startBpm({ roles: ["task-service"], ports: { ...ports, "task-service": replicaB }, env, config }),
  ]);
  procs.push(taskA, taskB);
  procs.push(await startBpm({ roles: ["form-service"], ports, env, config }));
  procs.push(await startBpm({ roles: ["process-service"], ports, env, config }));
  const gateway = await startBpm({ roles: ["gateway"], ports, config });
  procs.push(gateway);
  const gw = gateway.url();

  const employee = await authHeaders(LEAVE_VARIABLES.employee_id);
  const manager = await authHeaders(LEAVE_VARIABLES.manager_id, false, ["designer"]);
  const hr = await authHeaders(LEAVE_VARIABLES.hr_id);
  await deployLeave({ forms: gw, processes: gw }, manager);

  const started = await json(postJson(`${gw}/api/processes/leave/instances`, { variables: LEAVE_VARIABLES }, employee));
  expect(started.status).toBe(201);
  const id: string = started.body.id;

  const steps: [string, Record<string, unknown>, Record<string, string>][] = [
    ["request", { start_date: "2026-12-01", days: 3 }, employee],
    ["manager-approval", { approved: true, manager_comment: "enjoy" }, manager],
    ["hr-record", { hr_reference: "HR-2026" }, hr],
  ];
  for (const [step, data, who] of steps) {
    // the step's task is created asynchronously by the outbox: wait until it exists
    await eventually(`task for ${step}`, async () => {
      const r = await json(fetch(`${gw}/api/tasks?process_instance_id=${id}`, { headers: who }));
      return r.body.items?.some((t: { step_id: string }) => t.step_id === step) ? true : undefined;
    });
    const r = await json(postJson(`${gw}/api/processes/instances/${id}/complete`, { step_id: step, data }, who));
    expect(r.status).toBe(200);
  }
  const done = await json(fetch(`${gw}/api/processes/instances/${id}`, { headers: employee }));
  expect(done.body).toMatchObject({ status: "completed", end_state: "approved" });

  // every step's task ends done, seen identically from both replicas (one shared database)
  const fromA = await eventually("all tasks done", async () => {
    const r = await json(fetch(`${taskA.url("task-service")}/api/tasks?process_instance_id=${id}`, { headers: ADMIN }));
    return r.body.items.length === 3 && r.body.items.every((t: { status: string }) => t.status === "done") ? r.body.items : undefined;
  });
  const fromB = await json(fetch(`http://127.0.0.1:${replicaB.http}/api/tasks?process_instance_id=${id}`, { headers: ADMIN }));
  expect(fromB.body.items).toEqual(fromA);
  expect(fromA.map((t: { step_id: string }) => t.step_id)).toEqual(["request", "manager-approval", "hr-record"]);
}, 120_000);
