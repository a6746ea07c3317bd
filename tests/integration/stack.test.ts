// The whole stack on this machine: deploy/compose.yaml with podman-compose (scripts/stack.sh) and
// deploy/k8s/ with `podman kube play` (scripts/kube-play.sh), on the local images from scripts/image.sh.
// The compose stack runs the demo, then the failure drills: a task-service killed under load, the Consul
// leader stopped, PostgreSQL restarted; it shows one trace across the roles in Jaeger, and leaves nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { json, postJson, REPO } from "../support/bpm.ts";
import { podman, podmanOk, removeStale } from "../support/podman.ts";
import { toolPath, waitFor } from "../support/servers.ts";

const STACK = join(REPO, "scripts/stack.sh");
const KUBE_PLAY = join(REPO, "scripts/kube-play.sh");
/** A cold first run builds the role images and imports PostgreSQL's root filesystem. */
const UP_TIMEOUT_MS = 900_000;
const scratch = mkdtempSync(join(tmpdir(), "bpm-stack-"));
const project = `bpm-test-${process.pid}-stack`;
// deploy/bpm.yaml with a rate limit the load drills cannot reach (its 100 per minute is for people)
const configFile = join(scratch, "bpm.yaml");
writeFileSync(
  configFile,
  readFileSync(join(REPO, "deploy/bpm.yaml"), "utf8").replace("rate_limit: { requests: 100, window: 60s }", "rate_limit: { requests: 1000000, window: 1s }"),
);
const stackEnv = { BPM_STACK_PROJECT: project, BPM_STACK_ENV: join(scratch, "stack.env"), BPM_CONFIG_FILE: configFile };
const container = (service: string, n = 1) => `${project}_${service}_${n}`;

interface Sh {
  code: number;
  out: string;
}
async function sh(cmd: string[], env: Record<string, string> = {}): Promise<Sh> {
  const proc = Bun.spawn(cmd, { cwd: REPO, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: `${out}${err}`.replace(/^time=.*unable to get systemd connection.*$\n?/gm, "") };
}
async function shOk(cmd: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await sh(cmd, env);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} exited ${r.code}:\n${r.out.slice(-4000)}`);
  return r.out;
}

/** KEY=VALUE lines of `scripts/stack.sh env` (the ports the stack uses). */
async function stackPorts(script: string, env: Record<string, string>): Promise<Record<string, string>> {
  const out = await shOk([script, "env"], env);
  return Object.fromEntries(out.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

/** An executable that runs `/bpm ARGS` inside a container: scripts/demo.sh mints its tokens there. */
function bpmIn(name: string): string {
  const path = join(scratch, `bpm-in-${name}`);
  writeFileSync(path, `#!/bin/sh\nexec ${join(REPO, "scripts/podman.sh")} exec ${name} /bpm "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

async function runDemo(gateway: string, gatewayContainer: string): Promise<string> {
  const r = await sh([join(REPO, "scripts/demo.sh")], { BPM_URL: gateway, BPM_BIN: bpmIn(gatewayContainer), BPM_DATA_DIR: "/data" });
  if (r.code !== 0) throw new Error(`scripts/demo.sh exited ${r.code}:\n${r.out.slice(-4000)}`);
  return r.out;
}

interface HealthEntry {
  Node: { Node: string };
  Service: { ID: string; Address: string; Port: number };
}
async function passing(consul: string, service: string): Promise<HealthEntry[]> {
  const r = await fetch(`${consul}/v1/health/service/${service}?passing=true`, { signal: AbortSignal.timeout(5_000) });
  if (r.status !== 200) throw new Error(`consul answered ${r.status}`);
  return (await r.json()) as HealthEntry[];
}
const registrations = async (consul: string, service: string) => (await passing(consul, service)).map((e) => e.Service.ID).sort();

/** Waits until Consul reports exactly `counts` passing instances of each role. */
async function rolesPassing(consul: string, counts: Record<string, number>, timeoutMs = 120_000): Promise<Record<string, HealthEntry[]>> {
  return waitFor(
    async () => {
      const out: Record<string, HealthEntry[]> = {};
      for (const [role, n] of Object.entries(counts)) {
        out[role] = await passing(consul, role);
        if (out[role]!.length !== n) return undefined;
      }
      return out;
    },
    { what: `passing instances ${JSON.stringify(counts)} in Consul`, timeoutMs, intervalMs: 500 },
  );
}

interface Sample {
  start: number;
  end: number;
  status: number;
  retryAfter: string | null;
  error?: string;
}
/** `workers` clients sending `request` back to back until stop(); every answer with its start time. */
function load(request: () => Promise<Response>, workers: number): { samples: Sample[]; stop: () => Promise<Sample[]> } {
  const samples: Sample[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const start = performance.now();
      try {
        const r = await request();
        await r.arrayBuffer();
        samples.push({ start, end: performance.now(), status: r.status, retryAfter: r.headers.get("retry-after") });
      } catch (e) {
        samples.push({ start, end: performance.now(), status: 0, retryAfter: null, error: (e as Error).message });
      }
    }
  });
  return {
    samples,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}
const summary = (s: Sample[]) => s.reduce<Record<string, number>>((acc, x) => ((acc[x.status] = (acc[x.status] ?? 0) + 1), acc), {});

async function startedAt(name: string): Promise<string> {
  return (await podmanOk(["inspect", "--format", "{{.State.StartedAt}}", name])).trim();
}

let ports: Record<string, string> = {};
let gateway = "";
let consul = "";
let jaegerQuery = "";
let token = "";
let auth: Record<string, string> = {};
let stackUp = false;

beforeAll(async () => {
  await removeStale();
}, 60_000);

afterAll(async () => {
  // a failed test must not leave the stack running; the last test checks a clean `down` itself
  if (stackUp) await sh([STACK, "down"], stackEnv);
  await sh([KUBE_PLAY, "down"], { BPM_STACK_PROJECT: `bpm-test-${process.pid}-kube` });
  rmSync(scratch, { recursive: true, force: true });
}, 180_000);

describe("deploy/compose.yaml: the whole stack in one command (scripts/stack.sh up)", () => {
  test(
    "up: 3 Consul servers and this host's agent with one leader, PostgreSQL, Jaeger, and every role passing in Consul",
    async () => {
      stackUp = true;
      const out = await shOk([STACK, "up", "--free-ports"], stackEnv);
      console.log(out.split("\n").filter((l) => l.startsWith("image.sh") || l.startsWith("stack.sh")).join("\n"));
      ports = await stackPorts(STACK, stackEnv);
      gateway = `http://127.0.0.1:${ports.BPM_GATEWAY_PORT}`;
      consul = `http://127.0.0.1:${ports.BPM_CONSUL_HTTP_PORT}`;
      jaegerQuery = `http://127.0.0.1:${ports.BPM_JAEGER_UI_PORT}`;
      token = (await podmanOk(["exec", container("gateway"), "/bpm", "token", "--sub=7", "--ttl=1h", "--data-dir", "/data"])).trim();
      auth = { authorization: `Bearer ${token}` };
      const peers = (await (await fetch(`${consul}/v1/status/peers`)).json()) as string[];
      expect(peers.sort()).toEqual([1, 2, 3].map((n) => `127.0.0.1:${ports[`BPM_CONSUL_${n}_SERVER_PORT`]}`).sort());
      const nodes = ((await (await fetch(`${consul}/v1/catalog/nodes`)).json()) as Array<{ Node: string }>).map((n) => n.Node).sort();
      expect(nodes).toEqual(["consul-agent", "consul-server-1", "consul-server-2", "consul-server-3"]);
      const roles = await rolesPassing(consul, { gateway: 1, "task-service": 2, "form-service": 1, "process-service": 2 });
      // replicas listen on ports the kernel picked and advertise the listener's 127.0.0.1
      for (const entries of Object.values(roles)) for (const e of entries) expect(e.Service.Address).toBe("127.0.0.1");
      expect(new Set(roles["task-service"]!.map((e) => e.Service.Port)).size).toBe(2);
      // every container on the host network, none on podman's bridge
      const names = (await podmanOk(["ps", "--filter", `label=io.podman.compose.project=${project}`, "--format", "{{.Names}}"])).split("\n").sort();
      // 3 Consul servers, the agent, PostgreSQL, Jaeger, gateway, 2× task-, form-, 2× process-service
      expect(names).toHaveLength(12);
      for (const name of names) expect((await podmanOk(["inspect", "--format", "{{.HostConfig.NetworkMode}}", name])).trim()).toBe("host");
      expect((await (await fetch(`${jaegerQuery}/api/services`)).status)).toBe(200);
      expect((await fetch(`${consul}/ui/`)).status).toBe(200);
    },
    UP_TIMEOUT_MS,
  );

  test("scripts/demo.sh runs end to end through the gateway container", async () => {
    const out = await runDemo(gateway, container("gateway"));
    expect(out).toMatch(/demo: instance \S+ completed/);
    expect(out).toContain("end state approved");
  }, 180_000);

  test("one trace spans gateway → process-service → form-service and task-service in Jaeger's query API", async () => {
    type Span = { spanID: string; processID: string; references: Array<{ refType: string; spanID: string }> };
    type Trace = { spans: Span[]; processes: Record<string, { serviceName: string }> };
    const chain = (t: Trace, s: Span): string[] => {
      const byId = new Map(t.spans.map((x) => [x.spanID, x]));
      const out: string[] = [];
      for (let cur: Span | undefined = s; cur; cur = byId.get(cur.references.find((r) => r.refType === "CHILD_OF")?.spanID ?? "")) {
        const svc = t.processes[cur.processID]!.serviceName;
        if (out[out.length - 1] !== svc) out.push(svc);
      }
      return out.reverse();
    };
    const found = await waitFor(
      async () => {
        const r = await fetch(`${jaegerQuery}/api/traces?service=gateway&limit=200&lookback=1h`);
        const traces = ((await r.json()) as { data: Trace[] }).data;
        const chains = new Set<string>();
        for (const t of traces) for (const s of t.spans) chains.add(chain(t, s).join(" → "));
        const want = ["gateway → process-service → form-service", "gateway → process-service → task-service"];
        return want.every((w) => [...chains].some((c) => c.startsWith(w))) ? [...chains].filter((c) => want.some((w) => c.startsWith(w))) : undefined;
      },
      { what: "a gateway → process-service → form-/task-service trace in Jaeger", timeoutMs: 60_000, intervalMs: 1_000 },
    );
    console.log(`trace paths: ${found.slice(0, 4).join(" | ")}`);
  }, 120_000);

  test("--scale task-service=3 adds a third instance on a port of its own, found through Consul", async () => {
    await shOk([STACK, "compose", "up", "-d", "--scale", "task-service=3"], stackEnv);
    const roles = await rolesPassing(consul, { "task-service": 3, "process-service": 2, "form-service": 1 });
    expect(new Set(roles["task-service"]!.map((e) => e.Service.Port)).size).toBe(3);
  }, 180_000);

  test("killing a task-service container under wrk load: no GET fails after the ones in flight", async () => {
    const made = await json(postJson(`${gateway}/api/tasks`, { title: "survive a crash", priority: "high", user_id: 7 }, auth));
    expect(made.status).toBe(201);
    const url = `${gateway}/api/tasks/${made.body.id}`;
    const wrk = Bun.spawn([toolPath("wrk"), "-t1", "-c4", "-d30s", "-H", `authorization: Bearer ${token}`, url], { stdout: "pipe", stderr: "pipe" });
    const probe = load(() => fetch(url, { headers: auth, signal: AbortSignal.timeout(10_000) }), 4);
    await waitFor(async () => (probe.samples.filter((s) => s.status === 200).length >= 50 ? true : undefined), { what: "50 GETs before the kill", timeoutMs: 30_000 });
    const killedAt = performance.now();
    await podmanOk(["kill", "--signal", "KILL", container("task-service", 1)]);
    const deadAt = performance.now();
    // load goes on until Consul's checks have found the dead instance, and a while after
    await rolesPassing(consul, { "task-service": 2 }, 120_000);
    const flagged = performance.now();
    await waitFor(async () => (probe.samples.filter((s) => s.start > flagged).length >= 100 ? true : undefined), { what: "100 GETs after Consul flagged the instance", timeoutMs: 60_000 });
    const samples = await probe.stop();
    wrk.kill("SIGINT");
    const wrkOut = await new Response(wrk.stdout).text();
    await wrk.exited;
    const inflight = samples.filter((s) => s.start <= deadAt && s.end >= killedAt);
    const after = samples.filter((s) => s.start > deadAt);
    console.log(`kill under load: ${samples.length} GETs, ${inflight.length} in flight (${JSON.stringify(summary(inflight))}), after: ${JSON.stringify(summary(after))}; wrk: ${wrkOut.replace(/\s+/g, " ").slice(-260)}`);
    expect(after.filter((s) => s.status !== 200)).toEqual([]);
    expect(after.length).toBeGreaterThanOrEqual(100);
  }, 240_000);

  test("stopping the Consul leader: no request fails, a new leader is elected, every registration stays", async () => {
    const before = {
      "task-service": await registrations(consul, "task-service"),
      "form-service": await registrations(consul, "form-service"),
      "process-service": await registrations(consul, "process-service"),
      gateway: await registrations(consul, "gateway"),
    };
    const leader = ((await (await fetch(`${consul}/v1/status/leader`)).json()) as string).trim();
    const n = [1, 2, 3].find((i) => leader === `127.0.0.1:${ports[`BPM_CONSUL_${i}_SERVER_PORT`]}`);
    expect(n).toBeDefined();
    const made = await json(postJson(`${gateway}/api/tasks`, { title: "outlive the leader", priority: "low", user_id: 7 }, auth));
    expect(made.status).toBe(201);
    const probe = load(() => fetch(`${gateway}/api/tasks/${made.body.id}`, { headers: auth, signal: AbortSignal.timeout(10_000) }), 2);
    await podmanOk(["stop", "--time", "10", container(`consul-server-${n}`)]);
    const newLeader = await waitFor(
      async () => {
        const l = ((await (await fetch(`${consul}/v1/status/leader`, { signal: AbortSignal.timeout(3_000) })).json()) as string).trim();
        return l && l !== leader ? l : undefined;
      },
      { what: "a new Consul leader", timeoutMs: 60_000, intervalMs: 250 },
    );
    // writes through the new leader, and blocking queries that outlast the election
    const write = await json(postJson(`${gateway}/api/tasks`, { title: "after the election", priority: "low", user_id: 7 }, auth));
    expect(write.status).toBe(201);
    await waitFor(async () => (probe.samples.length >= 200 ? true : undefined), { what: "200 GETs across the election", timeoutMs: 60_000 });
    const samples = await probe.stop();
    console.log(`leader ${leader} stopped → ${newLeader}; ${samples.length} GETs: ${JSON.stringify(summary(samples))}`);
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);
    for (const [role, ids] of Object.entries(before)) expect(await registrations(consul, role)).toEqual(ids);
    await podmanOk(["start", container(`consul-server-${n}`)]);
    await waitFor(async () => (((await (await fetch(`${consul}/v1/status/peers`)).json()) as string[]).length === 3 ? true : undefined), { what: "3 raft peers again", timeoutMs: 60_000 });
  }, 240_000);

  test("restarting PostgreSQL: acknowledged writes are kept; while it is down clients get 503 with Retry-After, never 500; the roles recover on their own", async () => {
    const acked: Array<{ id: number; body: unknown }> = [];
    for (let i = 0; i < 10; i++) {
      const r = await json(postJson(`${gateway}/api/tasks`, { title: `acknowledged ${i}`, priority: "medium", user_id: 7 }, auth));
      expect(r.status).toBe(201);
      acked.push({ id: r.body.id, body: r.body });
    }
    const roleContainers = [container("gateway"), container("task-service", 2), container("task-service", 3), container("form-service"), container("process-service", 1), container("process-service", 2)];
    const started = await Promise.all(roleContainers.map(startedAt));
    await podmanOk(["stop", "--time", "20", container("postgres")]);
    const down: Sample[] = [];
    for (let i = 0; i < 20; i++) {
      const start = performance.now();
      const reads = await fetch(`${gateway}/api/tasks/${acked[i % acked.length]!.id}`, { headers: auth, signal: AbortSignal.timeout(30_000) });
      down.push({ start, end: performance.now(), status: reads.status, retryAfter: reads.headers.get("retry-after") });
      const writes = await postJson(`${gateway}/api/tasks`, { title: `while down ${i}`, priority: "low", user_id: 7 }, auth);
      down.push({ start, end: performance.now(), status: writes.status, retryAfter: writes.headers.get("retry-after") });
    }
    console.log(`PostgreSQL down: ${JSON.stringify(summary(down))}`);
    expect(down.filter((s) => s.status >= 500 && s.status !== 503)).toEqual([]);
    expect(down.filter((s) => s.status === 503).length).toBeGreaterThan(0);
    expect(down.filter((s) => s.status === 503 && !/^\d+$/.test(s.retryAfter ?? ""))).toEqual([]);
    await podmanOk(["start", container("postgres")]);
    const recovered = await waitFor(
      async () => {
        const r = await json(postJson(`${gateway}/api/tasks`, { title: "after the restart", priority: "low", user_id: 7 }, auth));
        return r.status === 201 ? r : undefined;
      },
      { what: "a write through the gateway after PostgreSQL is back", timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(recovered.body.title).toBe("after the restart");
    for (const { id, body } of acked) {
      const r = await json(fetch(`${gateway}/api/tasks/${id}`, { headers: auth }));
      expect(r.status).toBe(200);
      expect(r.body).toEqual(body);
    }
    // the same processes: nothing restarted them
    expect(await Promise.all(roleContainers.map(startedAt))).toEqual(started);
    await rolesPassing(consul, { gateway: 1, "task-service": 2, "form-service": 1, "process-service": 2 }, 120_000);
  }, 300_000);

  test("down stops everything and leaves no container, pod or volume", async () => {
    await shOk([STACK, "down"], stackEnv);
    stackUp = false;
    const label = `label=io.podman.compose.project=${project}`;
    expect(await podmanOk(["ps", "-a", "--filter", label, "--format", "{{.Names}}"])).toBe("");
    expect(await podmanOk(["volume", "ls", "--filter", label, "--format", "{{.Name}}"])).toBe("");
    expect((await podmanOk(["ps", "-a", "--format", "{{.Names}}"])).split("\n").filter((n) => n.startsWith(project))).toEqual([]);
    expect((await podmanOk(["pod", "ps", "--format", "{{.Name}}"])).split("\n").filter((n) => n.startsWith(project))).toEqual([]);
    const r = await fetch(gateway).catch((e: Error) => e);
    expect(r).toBeInstanceOf(Error);
  }, 180_000);
});

describe("deploy/k8s/ with podman kube play (scripts/kube-play.sh)", () => {
  const env = { BPM_STACK_PROJECT: `bpm-test-${process.pid}-kube` };
  const pods = ["bpm-gateway-pod-0", "bpm-task-service-pod-0", "bpm-form-service-pod-0", "bpm-process-service-pod-0"];

  test(
    "up: the four role pods pass their probes, register in Consul, and scripts/demo.sh runs through the gateway pod; down leaves nothing",
    async () => {
      await shOk([KUBE_PLAY, "up"], env);
      const p = await stackPorts(KUBE_PLAY, env);
      const consulUrl = `http://127.0.0.1:${p.BPM_CONSUL_HTTP_PORT}`;
      await rolesPassing(consulUrl, { gateway: 1, "task-service": 1, "form-service": 1, "process-service": 1 });
      const podNames = (await podmanOk(["pod", "ps", "--format", "{{.Name}}"])).split("\n").sort();
      expect(podNames).toEqual([...pods].sort());
      // the manifests' probes, GET /health on each role's port, made inside each pod by `bpm health`
      const rolePorts = { gateway: p.BPM_KUBE_GATEWAY_PORT, "task-service": p.BPM_KUBE_TASK_PORT, "form-service": p.BPM_KUBE_FORM_PORT, "process-service": p.BPM_KUBE_PROCESS_PORT };
      for (const [role, port] of Object.entries(rolePorts)) {
        const r = await podman(["exec", `bpm-${role}-pod-0-${role}`, "/bpm", "health", "--host", "127.0.0.1", "--port", String(port)]);
        expect([role, r.code, r.stdout]).toEqual([role, 0, `127.0.0.1:${port} UP`]);
        // nothing restarted them
        expect((await podmanOk(["inspect", "--format", "{{.RestartCount}}", `bpm-${role}-pod-0-${role}`])).trim()).toBe("0");
      }
      const out = await runDemo(`http://127.0.0.1:${p.BPM_KUBE_GATEWAY_PORT}`, "bpm-gateway-pod-0-gateway");
      expect(out).toMatch(/demo: instance \S+ completed/);
      await shOk([KUBE_PLAY, "down"], env);
      expect((await podmanOk(["pod", "ps", "--format", "{{.Name}}"])).split("\n").filter((n) => pods.includes(n))).toEqual([]);
      expect((await podmanOk(["ps", "-a", "--format", "{{.Names}}"])).split("\n").filter((n) => n.startsWith("bpm-") && (n.includes("-pod-") || n.startsWith(env.BPM_STACK_PROJECT)))).toEqual([]);
      expect(await podmanOk(["volume", "ls", "--filter", `label=io.podman.compose.project=${env.BPM_STACK_PROJECT}`, "--format", "{{.Name}}"])).toBe("");
      expect((await podmanOk(["volume", "ls", "--format", "{{.Name}}"])).split("\n")).not.toContain("bpm-config");
      expect((await podmanOk(["secret", "ls", "--format", "{{.Name}}"])).split("\n")).not.toContain("bpm-database");
    },
    UP_TIMEOUT_MS,
  );
});
