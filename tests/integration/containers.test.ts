// The role images from scripts/image.sh, built and run with podman: what is inside, and a gateway plus a
// task-service container serving a task through Consul, stopping cleanly and keeping data on their volume.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BPM_BIN, json, postJson, REPO, TEST_SECRET } from "../support/bpm.ts";
import { containerLogs, containerState, podman, podmanOk, removeAll, removeStale, runContainer, stopContainer } from "../support/podman.ts";
import { freePorts, startConsul, waitFor, type ConsulAgent } from "../support/servers.ts";

const ROLES = ["gateway", "task-service", "form-service", "process-service"] as const;
const VERSION = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }).version;
const MB = 1_000_000;
const BUILD_TIMEOUT_MS = 600_000;

const run = `bpm-test-${process.pid}`;
const names = { gateway: `${run}-gateway`, task: `${run}-task`, task2: `${run}-task-again`, pid1: `${run}-pid1` };
const taskVolume = `${run}-task-data`;

let buildLog = "";
/** HEAD when the build started: others may commit while it runs. */
let headBeforeBuild = "";
let consul: ConsulAgent;
let configDir: string;

function sh(cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

interface ImageInfo {
  Size: number;
  RootFS: { Layers: string[] };
  Config: { User: string; Entrypoint: string[]; Volumes: Record<string, unknown>; Labels: Record<string, string>; Env: string[] };
  Healthcheck?: { Test: string[] };
}

async function inspectImage(role: string): Promise<ImageInfo> {
  return (JSON.parse(await podmanOk(["image", "inspect", `localhost/bpm-${role}:${VERSION}`])) as ImageInfo[])[0]!;
}

/** Entries (path, owner uid, mode) of the single layer inside an OCI archive from dist/. */
function archiveLayer(archive: string): Array<{ path: string; uid: number; mode: string }> {
  const index = JSON.parse(sh(["tar", "-xOf", archive, "index.json"])) as { manifests: Array<{ digest: string }> };
  const manifest = JSON.parse(sh(["tar", "-xOf", archive, `blobs/sha256/${index.manifests[0]!.digest.slice(7)}`])) as { layers: Array<{ digest: string }> };
  expect(manifest.layers).toHaveLength(1);
  const layer = `blobs/sha256/${manifest.layers[0]!.digest.slice(7)}`;
  const listing = sh(["sh", "-c", `tar -xOf "$1" "$2" | tar -tzv --numeric-owner`, "sh", archive, layer]);
  return listing
    .trim()
    .split("\n")
    .map((line) => {
      const [mode, owner, , , , path] = line.split(/\s+/);
      return { path: `/${path!.replace(/^\.?\//, "").replace(/\/$/, "")}`, uid: Number(owner!.split("/")[0]), mode: mode! };
    });
}

/** Passing instances of `service` as Consul's health endpoint reports them. */
async function passing(service: string): Promise<Array<{ Service: { ID: string; Port: number } }>> {
  const r = await fetch(`${consul.url}/v1/health/service/${service}?passing=true`, { signal: AbortSignal.timeout(2_000) });
  return (await r.json()) as Array<{ Service: { ID: string; Port: number } }>;
}

async function healthcheck(name: string): Promise<number> {
  return (await podman(["healthcheck", "run", name])).code;
}

beforeAll(async () => {
  headBeforeBuild = sh(["git", "-C", REPO, "rev-parse", "HEAD"]).trim();
  await removeStale();
  const proc = Bun.spawn([join(REPO, "scripts/image.sh"), ...ROLES], { cwd: REPO, env: { ...process.env, BPM_BIN }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  buildLog = `${out}${err}`;
  if (code !== 0) throw new Error(`scripts/image.sh exited ${code}:\n${buildLog}`);
  console.log(buildLog.trim());
  consul = await startConsul();
  configDir = mkdtempSync(join(tmpdir(), "bpm-containers-"));
  // 1 s checks: the seed's 10 s would only slow the test down; the grace stays under podman's stop timeout
  writeFileSync(join(configDir, "bpm.yaml"), JSON.stringify({ consul: { checks: { interval: "1s", timeout: "1s" } }, http: { shutdown_grace: "5s" } }));
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  await removeAll(Object.values(names), [taskVolume]);
  await consul?.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

describe("role images (scripts/image.sh)", () => {
  test("four images run the same binary as uid 65532 with the role fixed, a /data volume, a HEALTHCHECK and OCI labels", async () => {
    const layers = new Set<string>();
    for (const role of ROLES) {
      const image = await inspectImage(role);
      expect(image.Config.User).toBe("65532:65532");
      expect(image.Config.Entrypoint).toEqual(["/bpm", `--role=${role}`]);
      expect(Object.keys(image.Config.Volumes)).toEqual(["/data"]);
      expect(image.Healthcheck?.Test).toEqual(["CMD", "/bpm", "health"]);
      expect(image.Config.Labels).toMatchObject({
        "org.opencontainers.image.version": VERSION,
        "org.opencontainers.image.title": `bpm-${role}`,
      });
      expect(image.Config.Labels["org.opencontainers.image.created"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(image.Config.Labels["org.opencontainers.image.source"]).toBeTruthy();
      // the commit built: HEAD at build time or a later one
      const revision = image.Config.Labels["org.opencontainers.image.revision"] ?? "";
      expect(revision).toMatch(/^[0-9a-f]{40}$/);
      expect(Bun.spawnSync(["git", "-C", REPO, "merge-base", "--is-ancestor", headBeforeBuild, revision]).exitCode).toBe(0);
      expect(image.RootFS.Layers).toHaveLength(1);
      layers.add(image.RootFS.Layers[0]!);
    }
    // one layer shared by all four: a registry or node stores the binary once
    expect(layers.size).toBe(1);
  });

  test("each image is the binary plus under 5 MB", async () => {
    const binary = statSync(BPM_BIN).size;
    for (const role of ROLES) {
      const { Size } = await inspectImage(role);
      console.log(`bpm-${role}: image ${(Size / MB).toFixed(1)} MB = binary ${(binary / MB).toFixed(1)} MB + ${((Size - binary) / MB).toFixed(2)} MB`);
      expect(Size - binary).toBeGreaterThan(0);
      expect(Size - binary).toBeLessThan(5 * MB);
    }
  });

  test("the OCI archive holds exactly the binary, the libraries ldd names, CA certificates, /tmp, the user files and /data", () => {
    const archive = join(REPO, "dist", `bpm-task-service-${VERSION}.oci.tar`);
    const entries = archiveLayer(archive);
    const files = entries.filter((e) => !e.mode.startsWith("d")).map((e) => e.path).sort();
    const libs = sh(["ldd", BPM_BIN])
      .split("\n")
      .flatMap((line) => /=> (\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)/.exec(line)?.[1] ?? []);
    expect(libs.length).toBeGreaterThan(0);
    expect(files).toEqual(["/bpm", "/etc/group", "/etc/nsswitch.conf", "/etc/passwd", "/etc/ssl/certs/ca-certificates.crt", ...libs].sort());
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get("/data")).toMatchObject({ uid: 65532 });
    expect(byPath.get("/tmp")?.mode).toBe("drwxrwxrwt");
    expect(entries.filter((e) => e.path !== "/data").every((e) => e.uid === 0)).toBe(true);
    for (const role of ROLES) expect(statSync(join(REPO, "dist", `bpm-${role}-${VERSION}.oci.tar`)).size).toBeGreaterThan(0);
  });
});

describe("gateway and task-service containers on the host network with Consul", () => {
  let gatewayPort: number;
  let taskPort: number;
  let taskGrpcPort: number;
  let token: string;
  let taskId: number;
  let created: unknown;

  const taskSpec = () => ({
    image: `localhost/bpm-task-service:${VERSION}`,
    volumes: [`${taskVolume}:/data`, `${join(configDir, "bpm.yaml")}:/etc/bpm/bpm.yaml:ro`],
    // flags after the image still reach the binary; BPM_HEALTH_PORT tells the HEALTHCHECK about --port
    env: { BPM_HOST: "127.0.0.1", CONSUL_HTTP_ADDR: consul.httpAddr, BPM_HEALTH_PORT: String(taskPort), BPM_AUTH_SECRET: TEST_SECRET },
    args: ["--config", "/etc/bpm/bpm.yaml", "--port", String(taskPort), "--grpc-port", String(taskGrpcPort)],
  });

  const taskInConsul = (what: string) =>
    waitFor(async () => ((await passing("task-service")).some((e) => e.Service.Port === taskPort) ? true : undefined), { what, timeoutMs: 30_000 });

  test("a task created through the gateway container is stored by the task-service container", async () => {
    [gatewayPort, taskPort, taskGrpcPort] = (await freePorts(3)) as [number, number, number];
    await runContainer({ name: names.task, ...taskSpec() });
    await runContainer({
      name: names.gateway,
      image: `localhost/bpm-gateway:${VERSION}`,
      volumes: [`${join(configDir, "bpm.yaml")}:/etc/bpm/bpm.yaml:ro`],
      // BPM_PORT moves the listener and the HEALTHCHECK together
      // both verify tokens with the one shared key (docs/security.md)
      env: { BPM_HOST: "127.0.0.1", CONSUL_HTTP_ADDR: consul.httpAddr, BPM_PORT: String(gatewayPort), BPM_AUTH_SECRET: TEST_SECRET },
      args: ["--config", "/etc/bpm/bpm.yaml"],
    });
    for (const name of [names.task, names.gateway]) {
      await waitFor(async () => ((await healthcheck(name)) === 0 ? true : undefined), { what: `HEALTHCHECK of ${name}`, timeoutMs: 30_000 }).catch(async (e: Error) => {
        throw new Error(`${e.message}\n${await containerLogs(name)}`);
      });
    }
    await taskInConsul("task-service passing in Consul");

    token = await podmanOk(["exec", names.gateway, "/bpm", "token", "--sub=42", "--ttl=10m"]);
    const auth = { authorization: `Bearer ${token}` };
    const gateway = `http://127.0.0.1:${gatewayPort}`;
    const made = await waitFor(
      async () => {
        const r = await json(postJson(`${gateway}/api/tasks`, { title: "ship the images", priority: "high", user_id: 42 }, auth));
        return r.status === 201 ? r : undefined;
      },
      { what: "POST /api/tasks through the gateway container", timeoutMs: 15_000 },
    );
    expect(made.body).toMatchObject({ title: "ship the images", priority: "high", status: "todo", user_id: 42 });
    taskId = made.body.id;
    created = made.body;
    const read = await json(fetch(`${gateway}/api/tasks/${taskId}`, { headers: auth }));
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created);
  }, 120_000);

  test("the containers run as uid 65532 on a read-only root filesystem", async () => {
    for (const name of [names.task, names.gateway]) {
      const { Pid } = await containerState(name);
      expect(readFileSync(`/proc/${Pid}/status`, "utf8")).toMatch(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
      expect(await podmanOk(["inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", name])).toBe("true");
    }
  });

  test("podman stop: the task-service deregisters from Consul and exits 0 within its grace", async () => {
    expect(await passing("task-service")).toHaveLength(1);
    const graceSeconds = 15;
    const { exitCode, elapsedMs } = await stopContainer(names.task, graceSeconds);
    expect(exitCode).toBe(0);
    expect(elapsedMs).toBeLessThan(graceSeconds * 1000);
    const services = (await (await fetch(`${consul.url}/v1/agent/services`)).json()) as Record<string, { Service: string }>;
    expect(Object.values(services).filter((s) => s.Service === "task-service")).toEqual([]);
  }, 60_000);

  test("a new container on the same volume still has the task", async () => {
    await podmanOk(["rm", names.task]);
    await runContainer({ name: names.task2, ...taskSpec() });
    await taskInConsul("the new task-service container passing in Consul");
    const read = await waitFor(
      async () => {
        const r = await json(fetch(`http://127.0.0.1:${gatewayPort}/api/tasks/${taskId}`, { headers: { authorization: `Bearer ${token}` } }));
        return r.status === 200 ? r : undefined;
      },
      { what: `GET /api/tasks/${taskId} after the restart`, timeoutMs: 30_000 },
    );
    expect(read.body).toEqual(created);
  }, 120_000);
});

describe("without --init (a Kubernetes pod has none)", () => {
  test("the binary as PID 1 still stops cleanly on SIGTERM", async () => {
    await runContainer({ name: names.pid1, image: `localhost/bpm-form-service:${VERSION}`, init: false, network: "none" });
    await waitFor(async () => ((await containerLogs(names.pid1)).includes('"bpm started"') ? true : undefined), { what: "form-service started as PID 1", timeoutMs: 30_000 });
    const { exitCode, elapsedMs } = await stopContainer(names.pid1, 10);
    expect(exitCode).toBe(0);
    expect(elapsedMs).toBeLessThan(10_000);
  }, 60_000);
});
