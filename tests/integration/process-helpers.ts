// Shared by the forms/process integration tests: leave fixtures over REST, grpcurl, multi-process setups.
import { adminHeaders, freePort, json, postJson, startBpm, tempDir, type BpmOptions, type BpmProcess } from "../support/bpm.ts";
import { toolPath } from "../support/tools.ts";
import { leaveForms, leaveProcess } from "../unit/domain/leave-example.ts";

export { leaveForms, leaveProcess };

export type RoleName = "gateway" | "task-service" | "form-service" | "process-service";
export type Ports = Record<RoleName, { http: number; grpc?: number }>;

/** Fast recovery for tests that stop a role: short breaker waits and health-check intervals. */
export const QUICK_RECOVERY = {
  resilience4j: {
    circuitbreaker: {
      instances: {
        taskService: { waitDurationInOpenState: 300 },
        formService: { waitDurationInOpenState: 300 },
      },
    },
  },
  load_balancer: { health_check: { interval: "200ms", timeout: "500ms", healthy_threshold: 1 }, outlier_detection: { base_ejection_time: "300ms" } },
};

export async function allocatePorts(): Promise<Ports> {
  const ports = {} as Ports;
  for (const r of ["gateway", "task-service", "form-service", "process-service"] as const) {
    ports[r] = { http: await freePort(), grpc: r === "gateway" ? undefined : await freePort() };
  }
  return ports;
}

/** One role (or a few) in its own process, sharing `ports` so every process finds the others; `dataDir` kept for restarts. */
export function startRoles(roles: RoleName[], ports: Ports, opts: Omit<BpmOptions, "roles" | "ports"> = {}): Promise<BpmProcess> {
  return startBpm({ ...opts, roles, ports, dataDir: opts.dataDir ?? tempDir(`bpm-${roles.join("+")}-`) });
}

/** Publishes the three leave forms and deploys the leave process (directly or through the gateway). */
export async function deployLeave(base: { forms: string; processes: string }, headers?: Record<string, string>): Promise<void> {
  headers ??= await adminHeaders();
  for (const form of leaveForms) {
    const r = await json(postJson(`${base.forms}/api/forms`, form, headers));
    if (r.status !== 201 && r.status !== 200) throw new Error(`publish ${form.key}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  const r = await json(postJson(`${base.processes}/api/processes`, leaveProcess, headers));
  if (r.status !== 201 && r.status !== 200) throw new Error(`deploy leave: ${r.status} ${JSON.stringify(r.body)}`);
}

export const LEAVE_VARIABLES = { employee_id: 11, manager_id: 22, hr_id: 33 };

export interface TaskView {
  id: number;
  status: string;
  user_id: number;
  step_id: string;
  process_instance_id: string;
}

/** Every task task-service holds (read straight from task-service's REST port). */
export async function allTasks(taskServiceUrl: string): Promise<TaskView[]> {
  const out: TaskView[] = [];
  for (let offset = 0; ; offset += 1000) {
    const r = await json<{ items: TaskView[] }>(fetch(`${taskServiceUrl}/api/tasks?limit=1000&offset=${offset}`, { headers: await adminHeaders() }));
    if (r.status !== 200) throw new Error(`list tasks: ${r.status}`);
    out.push(...r.body.items);
    if (r.body.items.length < 1000) return out;
  }
}

export async function outboxOf(processServiceUrl: string): Promise<{ pending: number; dead: number; oldest_age_ms: number }> {
  const r = await json(fetch(`${processServiceUrl}/health`));
  return r.body.details.outbox.details;
}

/** Polls until `probe` returns a value other than undefined. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await Bun.sleep(50);
  }
}

/** grpcurl (Go, reflection only) with an optional request on stdin (`-d @`). */
export async function grpcurl(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn([toolPath("grpcurl"), "-plaintext", ...args], { stdout: "pipe", stderr: "pipe", stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin) });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, out, err };
}
