// The deployable topology, checked offline: Kubernetes manifests with kubeconform against real API
// schemas, the compose file against the Compose Specification's schema, both against bpm's own
// config validation, and the Containerfile with dockerfilelint.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/loader.ts";
import { REPO } from "../support/bpm.ts";
import { toolPath } from "../support/servers.ts";

const K8S = join(REPO, "deploy", "k8s");
const COMPOSE = join(REPO, "deploy", "compose.yaml");
const ROLES = ["gateway", "task-service", "form-service", "process-service"] as const;
const HTTP_PORTS = { gateway: 8000, "task-service": 8082, "form-service": 8081, "process-service": 8080 } as const;
const MiB = 1024 * 1024;
/** Highest RSS measured for any role (wrk, 64 connections, 10k req/s through the gateway): docs/containers.md. */
const MEASURED_PEAK_RSS_BYTES = 108 * MiB;

const scratch = mkdtempSync(join(tmpdir(), "bpm-deploy-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function run(cmd: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

// ---------- Kubernetes ----------

type Obj = Record<string, any>;
const manifestFiles = () => readdirSync(K8S).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml").sort();
const manifests = (): Obj[] => manifestFiles().flatMap((f) => [Bun.YAML.parse(readFileSync(join(K8S, f), "utf8"))].flat() as Obj[]);
const find = (kind: string, name: string): Obj => {
  const hit = manifests().find((m) => m.kind === kind && m.metadata.name === name);
  if (!hit) throw new Error(`no ${kind} ${name} in deploy/k8s`);
  return hit;
};

interface KubeconformSummary {
  valid: number;
  invalid: number;
  errors: number;
  skipped: number;
}

/** kubeconform -strict against the offline schemas for `version`; the summary and any messages. */
function kubeconform(version: string, files: string[]): { summary: KubeconformSummary; messages: string[] } {
  const schemas = toolPath("k8s-schemas");
  const r = run([
    toolPath("kubeconform"),
    "-strict",
    "-summary",
    "-output=json",
    `-kubernetes-version=${version}`,
    // never the default GitHub location: only these local files
    `-schema-location=${schemas}/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json`,
    ...files,
  ]);
  const out = JSON.parse(r.stdout) as { resources?: Array<{ msg: string; status: string }>; summary: KubeconformSummary };
  return { summary: out.summary, messages: (out.resources ?? []).map((x) => `${x.status}: ${x.msg}`) };
}

describe("deploy/k8s", () => {
  // 1.30: the first release whose kubelet runs the preStop sleep action by default; 1.37: the newest schemas
  test.each(["1.30.0", "1.37.0"])("kubeconform -strict finds every resource valid against the Kubernetes %s schemas", (version) => {
    const { summary, messages } = kubeconform(version, manifestFiles().map((f) => join(K8S, f)));
    expect(messages).toEqual([]);
    expect(summary).toEqual({ valid: 10, invalid: 0, errors: 0, skipped: 0 });
  }, 120_000);

  test("the same check rejects a misspelt field and a preStop sleep on Kubernetes 1.28", () => {
    const broken = join(scratch, "broken.yaml");
    writeFileSync(broken, readFileSync(join(K8S, "task-service.yaml"), "utf8").replace("imagePullPolicy: IfNotPresent", "imagePullPolicy: IfNotPresent\n          imagePulPolicy: Always"));
    const misspelt = kubeconform("1.30.0", [broken]);
    expect(misspelt.summary).toMatchObject({ valid: 1, invalid: 1 });
    expect(misspelt.messages.join("\n")).toContain("imagePulPolicy");
    const old = kubeconform("1.28.0", [join(K8S, "task-service.yaml")]);
    expect(old.summary).toMatchObject({ invalid: 1 });
    expect(old.messages.join("\n")).toContain("sleep");
  }, 120_000);

  test.each(ROLES)("%s: a Deployment whose Service selects its pods, probes /health on the HTTP port, drains first, runs as 65532 read-only", (role) => {
    const deployment = find("Deployment", `bpm-${role}`);
    const service = find("Service", `bpm-${role}`);
    const pod = deployment.spec.template;
    const [container] = pod.spec.containers as Obj[];
    expect(container!.image).toBe(`localhost/bpm-${role}:0.1.0`);
    // the Service selects exactly this Deployment's pods, and the Deployment its own
    for (const [k, v] of Object.entries(service.spec.selector)) expect(pod.metadata.labels[k]).toBe(v);
    for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels)) expect(pod.metadata.labels[k]).toBe(v);
    const ports = Object.fromEntries((container!.ports as Obj[]).map((p) => [p.name, p.containerPort]));
    expect(ports.http).toBe(HTTP_PORTS[role]);
    for (const p of service.spec.ports as Obj[]) expect(Object.keys(ports)).toContain(p.targetPort);
    // the listener, the image's HEALTHCHECK and the probes agree on one port
    expect((container!.env as Obj[]).find((e) => e.name === "BPM_PORT")?.value).toBe(String(HTTP_PORTS[role]));
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) expect(container![probe].httpGet).toEqual({ path: "/health", port: "http" });
    expect(container!.lifecycle.preStop.sleep.seconds).toBeGreaterThan(0);
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(container!.lifecycle.preStop.sleep.seconds + 10);
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532 });
    expect(container!.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect((container!.volumeMounts as Obj[]).map((m) => m.mountPath)).toEqual(expect.arrayContaining(["/data", "/tmp", "/etc/bpm", "/data/gateway-jwt-secret"]));
    // every role verifies tokens with the same key (docs/security.md)
    expect((pod.spec.volumes as Obj[]).find((v) => v.name === "jwt")?.secret.secretName).toBe("bpm-gateway-jwt");
    expect((container!.env as Obj[]).find((e) => e.name === "BPM_ADVERTISE_ADDRESS")?.value).toBe("auto");
  });

  test("memory requests cover the measured RSS and limits leave headroom above its peak", () => {
    const bytes = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? NaN) * MiB;
    for (const role of ROLES) {
      const { resources } = find("Deployment", `bpm-${role}`).spec.template.spec.containers[0];
      expect(bytes(resources.requests.memory)).toBeGreaterThanOrEqual(MEASURED_PEAK_RSS_BYTES);
      expect(bytes(resources.limits.memory)).toBeGreaterThanOrEqual(2 * MEASURED_PEAK_RSS_BYTES);
      expect(resources.requests.cpu).toBeTruthy();
    }
  });

  test("the ConfigMap's bpm.yaml and environment pass bpm's own config validation", async () => {
    const file = join(scratch, "bpm.yaml");
    writeFileSync(file, find("ConfigMap", "bpm-config").data["bpm.yaml"]);
    const env = { ...find("ConfigMap", "bpm-env").data, DATABASE_URL: "postgres://bpm:secret@postgres:5432/bpm", BPM_ADVERTISE_ADDRESS: "10.1.2.3" };
    const config = await loadConfig({ file, env });
    expect(config.discovery.mode).toBe("consul");
    expect(config.consul.address).toBe("consul-server:8500");
    expect(config.http.host).toBe("0.0.0.0");
    expect(config.http.shutdown_grace).toBeLessThanOrEqual(10_000);
  });

  test("the kustomization lists every manifest and retags every role image", () => {
    const k = Bun.YAML.parse(readFileSync(join(K8S, "kustomization.yaml"), "utf8")) as Obj;
    expect([...k.resources].sort()).toEqual(manifestFiles());
    expect((k.images as Obj[]).map((i) => i.name).sort()).toEqual(ROLES.map((r) => `localhost/bpm-${r}`).sort());
  });
});

// ---------- Compose ----------

/** Validates `file` against the Compose Specification schema; prints errors, returns the loaded document. */
const COMPOSE_CHECK = `
import json, sys
import jsonschema, yaml
schema = json.load(open(sys.argv[1]))
doc = yaml.safe_load(open(sys.argv[2]))
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
for e in errors:
    print("/".join(map(str, e.absolute_path)) or "(top level)", ":", e.message, file=sys.stderr)
print(json.dumps(doc))
sys.exit(1 if errors else 0)
`;

function composeCheck(file: string): { code: number; doc: Obj; errors: string } {
  const r = run(["python3", "-c", COMPOSE_CHECK, toolPath("compose-schema"), file], { PYTHONPATH: toolPath("py-jsonschema") });
  return { code: r.code, doc: r.stdout ? (JSON.parse(r.stdout) as Obj) : {}, errors: r.stderr.trim() };
}

/** Compose's `${VAR:-default}` with no variables set (and `${VAR:?why}` as a placeholder). */
const interpolate = (s: string) => s.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, "$1").replace(/\$\{([A-Z0-9_]+):\?[^}]*\}/g, "/$1");

describe("deploy/compose.yaml", () => {
  test("validates against the Compose Specification schema (compose-go's compose-spec.json)", () => {
    const { code, errors } = composeCheck(COMPOSE);
    expect(errors).toBe("");
    expect(code).toBe(0);
  }, 120_000);

  test("the same check rejects a misspelt service key", () => {
    const broken = join(scratch, "compose.yaml");
    const text = readFileSync(COMPOSE, "utf8");
    expect(text).toContain("    volumes: [\"consul-2:/consul/data\"]\n");
    writeFileSync(broken, text.replace("    volumes: [\"consul-2:/consul/data\"]\n", "    volumes: [\"consul-2:/consul/data\"]\n    hostnam: consul-server-2\n"));
    const { code, errors } = composeCheck(broken);
    expect(code).toBe(1);
    expect(errors).toContain("services/consul-server-2");
    expect(errors).toContain("'hostnam' was unexpected");
  }, 120_000);

  test("the seed's topology: 3 Consul servers expecting 3 and joining each other, this host's agent, PostgreSQL, Jaeger, gateway, 2× task-, 1× form-, 2× process-service", () => {
    const { services } = composeCheck(COMPOSE).doc as { services: Record<string, Obj> };
    const consul = Object.keys(services).filter((n) => String(services[n]!.image).startsWith("localhost/bpm-consul:"));
    const servers = consul.filter((n) => (services[n]!.command as string[]).includes("-server"));
    expect(servers.sort()).toEqual(["consul-server-1", "consul-server-2", "consul-server-3"]);
    expect(consul.filter((n) => !servers.includes(n))).toEqual(["consul-agent"]);
    const flag = (name: string, f: string) => interpolate((services[name]!.command as string[]).find((a) => a.startsWith(`-${f}=`))!.slice(f.length + 2));
    const serfs = servers.map((n) => `127.0.0.1:${flag(n, "serf-lan-port")}`).sort();
    for (const name of consul) {
      const cmd = (services[name]!.command as string[]).map(interpolate);
      if (servers.includes(name)) expect(cmd).toContain("-bootstrap-expect=3");
      // everyone joins the three servers at their own Serf ports
      expect(cmd.filter((a) => a.startsWith("-retry-join=")).map((a) => a.slice(12)).sort()).toEqual(serfs);
      expect(cmd).toContain("-bind=127.0.0.1");
      expect(cmd).toContain(`-node=${name}`);
    }
    expect(Object.values(services).filter((s) => String(s.image).startsWith("localhost/bpm-postgres:"))).toHaveLength(1);
    expect(Object.values(services).filter((s) => String(s.image).startsWith("localhost/bpm-jaeger:"))).toHaveLength(1);
    const count = (role: string) =>
      Object.values(services)
        .filter((s) => interpolate(String(s.image)) === `localhost/bpm-${role}:latest`)
        .reduce((n, s) => n + (s.deploy?.mode === "replicated" ? Number(s.deploy.replicas) : 1), 0);
    expect(ROLES.map((r) => [r, count(r)])).toEqual([["gateway", 1], ["task-service", 2], ["form-service", 1], ["process-service", 2]]);
  }, 120_000);

  test("every container uses the host network, publishes no port, and every listener is a port variable of its own", () => {
    const { services } = composeCheck(COMPOSE).doc as { services: Record<string, Obj> };
    for (const s of Object.values(services)) {
      expect(s.network_mode).toBe("host");
      expect(s.ports).toBeUndefined();
    }
    const text = readFileSync(COMPOSE, "utf8");
    const defaults = new Map<string, Set<string>>();
    for (const [, name, value] of text.matchAll(/\$\{(BPM_[A-Z0-9_]*PORT):-(\d+)\}/g)) defaults.set(name!, (defaults.get(name!) ?? new Set()).add(value!));
    // one default per variable, and no two variables share one
    for (const [name, values] of defaults) expect([name, values.size]).toEqual([name, 1]);
    const all = [...defaults.values()].map((v) => [...v][0]);
    expect(new Set(all).size).toBe(all.length);
    expect(defaults.size).toBe(16);
  });

  test("every bpm service listens on 127.0.0.1, advertises auto, registers with the agent, stores in PostgreSQL and passes bpm's config validation", async () => {
    const { services } = composeCheck(COMPOSE).doc as { services: Record<string, Obj> };
    const bpm = Object.entries(services).filter(([, s]) => String(s.image).includes("/bpm-") && ROLES.some((r) => String(s.image).includes(`/bpm-${r}:`)));
    expect(bpm).toHaveLength(4);
    const agentPort = interpolate((services["consul-agent"]!.command as string[]).find((a) => a.startsWith("-http-port="))!.slice(11));
    const pgPort = interpolate(String(services.postgres!.environment.PGPORT));
    for (const [name, s] of bpm) {
      const env = Object.fromEntries(Object.entries(s.environment as Record<string, string>).map(([k, v]) => [k, interpolate(String(v))]));
      expect(env).toMatchObject({ BPM_HOST: "127.0.0.1", BPM_ADVERTISE_ADDRESS: "auto", CONSUL_HTTP_ADDR: `127.0.0.1:${agentPort}` });
      expect(new URL(env.DATABASE_URL!).port).toBe(pgPort);
      // replicas share one environment: the kernel picks each one's ports
      if (name !== "gateway") expect([env.BPM_PORT, env.BPM_GRPC_PORT]).toEqual(["0", "0"]);
      for (const dep of Object.keys(s.depends_on)) expect(Object.keys(services)).toContain(dep);
      expect(s).toMatchObject({ init: true, read_only: true });
      expect(s.tmpfs).toContain("/data:U");
      // the stack's deploy/bpm.yaml, mounted into every bpm container
      expect(s.command).toEqual(["--config", "/etc/bpm/bpm.yaml"]);
      expect((s.volumes as string[]).map(interpolate)).toContain("./bpm.yaml:/etc/bpm/bpm.yaml:ro");
      const config = await loadConfig({ env, file: join(REPO, "deploy", "bpm.yaml") });
      expect(config.discovery.mode).toBe("consul");
      expect(config.storage.database_url).toStartWith("postgres://");
      expect(config.advertise_address).toBe("127.0.0.1");
    }
  }, 120_000);
});

// ---------- Containerfile ----------

describe("Containerfile", () => {
  test("dockerfilelint finds no issue", () => {
    const r = run([toolPath("dockerfilelint"), "--json", join(REPO, "Containerfile")]);
    const report = JSON.parse(r.stdout) as { totalIssues: number; files: Array<{ issues: unknown[] }> };
    expect(report.files[0]!.issues).toEqual([]);
    expect(report.totalIssues).toBe(0);
    expect(r.code).toBe(0);
  }, 120_000);

  test("its role stages are containers/roles.Containerfile verbatim and every registry base image has a tag", () => {
    const containerfile = readFileSync(join(REPO, "Containerfile"), "utf8");
    expect(containerfile).toContain(readFileSync(join(REPO, "containers", "roles.Containerfile"), "utf8"));
    const bases = [...containerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!).filter((b) => b.includes("/"));
    expect(bases.length).toBe(2);
    for (const base of bases) expect(base).toMatch(/:[^/]+$/);
  });
});
