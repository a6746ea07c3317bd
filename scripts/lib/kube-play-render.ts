// Renders deploy/k8s/ for `podman kube play --network host` on one machine, printing one YAML stream.
// The manifests stay as they are for Kubernetes; on one host network with podman 4.3 they differ so:
//  - every pod shares the host's ports: each role gets its own port (BPM_PORT, BPM_GRPC_PORT) and listens
//    on 127.0.0.1 only (BPM_HOST), and each Deployment runs one pod (replicas of one pod template would
//    all want the same port);
//  - podman runs a probe as `sh -c "… || exit 1"` inside the container, which has no shell: the probes
//    (all GET /health) are left out, and `podman exec POD-CONTAINER /bpm health --port P` runs the same
//    check (scripts/kube-play.sh waits on it);
//  - `ports:` cannot be given ("PortMappings can only be used with Bridge or slirp4netns networking");
//  - there are no Services: the roles find each other through Consul, as they do in Kubernetes;
//  - the JWT secret comes from a file on the host (hostPath, BPM_JWT_SECRET_FILE) mounted into every
//    pod at /data/gateway-jwt-secret: podman mounts a subPath of a secret volume as a directory. Every
//    role then verifies the same tokens; mint them in any pod with `bpm token --data-dir /data`;
//  - bpm-env points at the stack's Consul agent and Jaeger; the Secret bpm-database comes from
//    `podman secret create` (scripts/kube-play.sh: podman 4.3 stores a played Secret as YAML, then
//    reads it as JSON).
// Environment: BPM_KUBE_PORTS="gateway=P task-service=P,G form-service=P,G process-service=P,G",
// BPM_CONSUL_HTTP_ADDR, BPM_OTLP_ENDPOINT, BPM_JWT_SECRET_FILE.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

type Obj = Record<string, any>;
const dir = join(import.meta.dir, "..", "..", "deploy", "k8s");
const need = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`kube-play-render: ${name} is required`);
  return v;
};

const ports = new Map<string, { http: number; grpc?: number }>();
for (const item of need("BPM_KUBE_PORTS").split(/\s+/).filter(Boolean)) {
  const [role, spec] = item.split("=") as [string, string];
  const [http, grpc] = spec.split(",").map(Number);
  ports.set(role, { http: http!, grpc });
}

const files = readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml").sort();
const docs: Obj[] = files.flatMap((f) => [Bun.YAML.parse(readFileSync(join(dir, f), "utf8"))].flat() as Obj[]);
const out: Obj[] = [];

for (const doc of docs) {
  if (doc.kind === "Service") continue; // podman has no Services; the roles find each other through Consul
  if (doc.kind === "ConfigMap" && doc.metadata.name === "bpm-env") {
    doc.data.CONSUL_HTTP_ADDR = need("BPM_CONSUL_HTTP_ADDR");
    doc.data.OTEL_EXPORTER_OTLP_ENDPOINT = need("BPM_OTLP_ENDPOINT");
  }
  if (doc.kind === "Deployment") {
    doc.spec.replicas = 1;
    const pod = doc.spec.template.spec;
    const secretVolumes = new Set(((pod.volumes ?? []) as Obj[]).filter((v) => v.secret).map((v) => v.name as string));
    pod.volumes = ((pod.volumes ?? []) as Obj[]).filter((v) => !secretVolumes.has(v.name));
    pod.volumes.push({ name: "jwt-file", hostPath: { path: need("BPM_JWT_SECRET_FILE"), type: "File" } });
    for (const c of doc.spec.template.spec.containers as Obj[]) {
      const role = c.name as string;
      const p = ports.get(role);
      if (!p) throw new Error(`kube-play-render: no port for ${role} in BPM_KUBE_PORTS`);
      delete c.ports;
      c.volumeMounts = ((c.volumeMounts ?? []) as Obj[]).filter((m) => !secretVolumes.has(m.name));
      c.volumeMounts.push({ name: "jwt-file", mountPath: "/data/gateway-jwt-secret", readOnly: true });
      const env = (c.env as Obj[]).filter((e) => !["BPM_PORT", "BPM_GRPC_PORT", "BPM_HOST"].includes(e.name));
      env.push({ name: "BPM_HOST", value: "127.0.0.1" }, { name: "BPM_PORT", value: String(p.http) });
      if (p.grpc !== undefined) env.push({ name: "BPM_GRPC_PORT", value: String(p.grpc) });
      c.env = env;
      // podman runs every probe as `/bin/sh -c "… || exit 1"` inside the container (httpGet as curl), and
      // the images have neither a shell nor curl: a probe could only fail, and a failed liveness probe
      // restarts the container. They are left out; `bpm health` on the role's port is the same check.
      for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
        if (c[probe] && c[probe].httpGet?.path !== "/health") throw new Error(`kube-play-render: ${role}'s ${probe} is not GET /health`);
        delete c[probe];
      }
    }
  }
  out.push(doc);
}
// plain data: shared objects would come out as YAML anchors
process.stdout.write(out.map((d) => Bun.YAML.stringify(JSON.parse(JSON.stringify(d)), null, 2)).join("\n---\n") + "\n");
