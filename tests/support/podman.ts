// podman for tests, on the project's own config and storage (scripts/podman.sh → containers/env.sh).
// Containers join the host network only: traffic stays on loopback, ports are picked free at run time.
import { join } from "node:path";
import { REPO } from "./bpm.ts";

const PODMAN = join(REPO, "scripts/podman.sh");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Without systemd, podman 4.3 logs an error for each healthcheck timer it cannot add; the check itself still runs on demand. */
const systemdNoise = /^time=.*unable to get systemd connection.*$\n?/gm;

export async function podman(args: string[], options: { env?: Record<string, string> } = {}): Promise<Run> {
  const proc = Bun.spawn([PODMAN, ...args], { env: { ...process.env, ...options.env }, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout: stdout.trim(), stderr: stderr.replace(systemdNoise, "").trim() };
}

/** podman that must succeed; its stdout. */
export async function podmanOk(args: string[]): Promise<string> {
  const r = await podman(args);
  if (r.code !== 0) throw new Error(`podman ${args.join(" ")} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

export interface ContainerSpec {
  name: string;
  image: string;
  env?: Record<string, string>;
  /** host path or named volume → container path (":ro" etc. may follow). */
  volumes?: string[];
  /** Arguments after the image: they follow the entrypoint's `/bpm --role=…`. */
  args?: string[];
  readOnly?: boolean;
  /** false: the binary itself is PID 1, as in a Kubernetes pod. */
  init?: boolean;
  network?: "host" | "none";
}

/** `podman run -d` with this project's fixed choices: never pull, host (or no) network, read-only root unless asked. */
export async function runContainer(spec: ContainerSpec): Promise<string> {
  const args = ["run", "--detach", "--pull=never", `--name=${spec.name}`, `--network=${spec.network ?? "host"}`, `--init=${spec.init ?? true}`];
  if (spec.readOnly ?? true) args.push("--read-only");
  for (const [k, v] of Object.entries(spec.env ?? {})) args.push("--env", `${k}=${v}`);
  for (const v of spec.volumes ?? []) args.push("--volume", v);
  args.push(spec.image, ...(spec.args ?? []));
  return podmanOk(args);
}

export interface ContainerState {
  Status: string;
  Running: boolean;
  ExitCode: number;
  Pid: number;
}

export async function containerState(name: string): Promise<ContainerState> {
  return JSON.parse(await podmanOk(["inspect", "--format", "{{json .State}}", name])) as ContainerState;
}

/** `podman stop -t graceSeconds` and how it ended: SIGTERM, then SIGKILL (exit 137) once the grace is spent. */
export async function stopContainer(name: string, graceSeconds: number): Promise<{ exitCode: number; elapsedMs: number }> {
  const t0 = performance.now();
  await podmanOk(["stop", "--time", String(graceSeconds), name]);
  const elapsedMs = performance.now() - t0;
  return { exitCode: (await containerState(name)).ExitCode, elapsedMs };
}

export async function containerLogs(name: string): Promise<string> {
  const r = await podman(["logs", name]);
  return `${r.stdout}\n${r.stderr}`.trim();
}

/** Removes containers (and their anonymous volumes) and named volumes; missing ones are fine. */
export async function removeAll(containers: string[], volumes: string[] = []): Promise<void> {
  if (containers.length > 0) await podman(["rm", "--force", "--volumes", "--ignore", ...containers]);
  for (const v of volumes) await podman(["volume", "rm", "--force", v]);
}

/** Containers and volumes named `bpm-test-<pid>-…` whose test process is gone: left behind by a killed run. */
export async function removeStale(): Promise<void> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const stale = (names: string) => names.split("\n").filter((n) => /^bpm-test-(\d+)-/.test(n) && !alive(Number(/^bpm-test-(\d+)-/.exec(n)![1])));
  const containers = stale((await podman(["ps", "--all", "--format", "{{.Names}}"])).stdout);
  const volumes = stale((await podman(["volume", "ls", "--format", "{{.Name}}"])).stdout);
  await removeAll(containers, volumes);
}
