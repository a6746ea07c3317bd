// DATABASE_URL: form-service, task-service and two process-service replicas on one real PostgreSQL,
// each its own process. Work started on one replica is finished on the other; each step gets one task.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { adminHeaders, json, postJson, freePort, type BpmProcess } from "../support/bpm.ts";
import { startPostgres, type PostgresServer } from "../support/postgres.ts";
import { allocatePorts, allTasks, deployLeave, eventually, LEAVE_VARIABLES, outboxOf, QUICK_RECOVERY, startRoles, type Ports } from "./process-helpers.ts";
import { freshDatabase } from "./storage/databases.ts";

/** Direct calls to a role carry a credential: an admin acts for the user a body names. */
const ADMIN = await adminHeaders();

let pg: PostgresServer;
const running: BpmProcess[] = [];
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop().catch(() => p.kill())));
  await pg?.stop();
}, 60_000);

test("two process-service replicas on PostgreSQL share definitions, instances and the outbox", async () => {
  const env = { DATABASE_URL: await freshDatabase(pg, "e2e") };
  const ports = await allocatePorts();
  const replicaPorts: Ports = { ...ports, "process-service": { http: await freePort(), grpc: await freePort() } };
  const start = async (roles: Parameters<typeof startRoles>[0], p: Ports) => {
    const proc = await startRoles(roles, p, { env, config: QUICK_RECOVERY });
    running.push(proc);
    return proc;
  };
  const tasks = await start(["task-service"], ports);
  const forms = await start(["form-service"], ports);
  // both replicas start (and migrate) at once
  const [a, b] = await Promise.all([start(["process-service"], ports), start(["process-service"], replicaPorts)]);
  const A = a.url("process-service");
  const B = b.url("process-service");
  await deployLeave({ forms: forms.url("form-service"), processes: A });
  expect((await json(fetch(`${B}/api/processes/leave`, { headers: ADMIN }))).body.version).toBe(1);

  const n = 40;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await json<{ id: string }>(postJson(`${i % 2 ? A : B}/api/processes/leave/instances`, { variables: LEAVE_VARIABLES, started_by: 11 }, ADMIN));
    expect(r.status).toBe(201);
    ids.push(r.body.id);
  }
  // each step is completed on the replica that did not start the instance
  const results = await Promise.all(ids.map((id, i) =>
    json(postJson(`${i % 2 ? B : A}/api/processes/instances/${id}/complete`, { step_id: "request", user_id: 11, data: { start_date: "2025-07-01", days: 1 } }, ADMIN))));
  expect(results.map((r) => r.status)).toEqual(ids.map(() => 200));
  // a second completion of the same step on the other replica is refused
  expect((await json(postJson(`${A}/api/processes/instances/${ids[0]}/complete`, { step_id: "request", user_id: 11, data: { start_date: "2025-07-01", days: 1 } }, ADMIN))).status).toBe(409);

  await eventually("both outboxes drained", async () => ((await outboxOf(A)).pending === 0 && (await outboxOf(B)).pending === 0 ? true : undefined), 45_000);
  const all = await allTasks(tasks.url("task-service"));
  expect(all).toHaveLength(2 * n);
  for (const id of ids) {
    const mine = all.filter((t) => t.process_instance_id === id).map((t) => `${t.step_id}:${t.status}`);
    expect(mine).toEqual(["request:done", "manager-approval:todo"]);
  }
  const listed = await json(fetch(`${A}/api/processes/instances?definition_key=leave&status=running&limit=1000`, { headers: ADMIN }));
  expect(listed.body.total).toBe(n);
}, 120_000);
