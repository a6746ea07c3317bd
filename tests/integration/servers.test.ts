// The real servers other tests rely on start, answer, survive what they must, and stop.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { SQL } from "bun";
import { startConsul, startConsulCluster, startJaeger, startPostgres, toolPath, waitFor } from "../support/servers.ts";

const repo = resolve(import.meta.dir, "..", "..");
// Server start-up is seconds on a loaded 2-core machine; the first run may also build a tool.
const serverTestMs = 120_000;

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return false;
  } catch {
    return true;
  }
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${url} → ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

async function registerService(agentUrl: string, name: string, id: string, port: number): Promise<void> {
  const response = await fetch(`${agentUrl}/v1/agent/service/register`, {
    method: "PUT",
    body: JSON.stringify({ Name: name, ID: id, Address: "127.0.0.1", Port: port, Tags: ["v1", "production"], Meta: { role: name } }),
    signal: AbortSignal.timeout(5_000),
  });
  if (!response.ok) throw new Error(`register ${id} via ${agentUrl} → ${response.status}: ${await response.text()}`);
}

interface CatalogEntry {
  ServiceID: string;
  ServiceName: string;
  ServicePort: number;
  ServiceTags: string[];
  ServiceMeta: Record<string, string>;
}

/** Waits until `id` is in the catalog as seen from `url` (anti-entropy syncs agent → catalog). */
function catalogEntry(url: string, name: string, id: string): Promise<CatalogEntry> {
  return waitFor(
    async () => (await getJson<CatalogEntry[]>(`${url}/v1/catalog/service/${name}`)).find((e) => e.ServiceID === id),
    { what: `${id} in the catalog of ${url}`, timeoutMs: 15_000 },
  );
}

describe("consul dev agent", () => {
  test("elects itself leader and round-trips a registration through the catalog", async () => {
    const consul = await startConsul();
    try {
      expect(consul.httpAddr).toMatch(/^127\.0\.0\.1:\d+$/);
      const leader = await getJson<string>(`${consul.url}/v1/status/leader`);
      expect(leader).toMatch(/^127\.0\.0\.1:\d+$/);

      await registerService(consul.url, "task-service", "task-service-test-8082", 8082);
      const entry = await catalogEntry(consul.url, "task-service", "task-service-test-8082");
      expect(entry.ServicePort).toBe(8082);
      expect(entry.ServiceTags).toEqual(["v1", "production"]);
      expect(entry.ServiceMeta).toEqual({ role: "task-service" });
    } finally {
      await consul.stop();
    }
    expect(await refused(`${consul.url}/v1/status/leader`)).toBe(true);
  }, serverTestMs);

  test("kill takes it down and restart brings it back on the same address, empty", async () => {
    const consul = await startConsul();
    try {
      await registerService(consul.url, "form-service", "form-service-1", 8081);
      await catalogEntry(consul.url, "form-service", "form-service-1");
      await consul.kill();
      expect(await refused(`${consul.url}/v1/status/leader`)).toBe(true);

      await consul.restart();
      expect(await getJson<string>(`${consul.url}/v1/status/leader`)).not.toBe("");
      // A dev agent keeps nothing across restarts: registrations must be made again (what roles must notice).
      expect(await getJson<unknown[]>(`${consul.url}/v1/catalog/service/form-service`)).toEqual([]);
    } finally {
      await consul.stop();
    }
  }, serverTestMs);
});

interface AutopilotHealth {
  Healthy: boolean;
  Servers: Array<{ Name: string; Healthy: boolean; Voter: boolean }>;
}

describe("consul 3-server cluster (config/consul/server-*.hcl)", () => {
  test(
    "elects a leader, keeps working with a follower killed, and elects a new leader when the leader is killed",
    async () => {
      const cluster = await startConsulCluster();
      try {
        const firstLeader = await cluster.leader();
        const peers = await getJson<string[]>(`http://${firstLeader}/v1/status/peers`);
        expect(peers).toHaveLength(3);

        const follower = cluster.servers.find((s) => s.httpAddr !== firstLeader)!;
        const other = cluster.servers.find((s) => s.httpAddr !== firstLeader && s !== follower)!;
        await follower.kill();
        expect(await cluster.leader()).toBe(firstLeader);
        await registerService(other.url, "process-service", "process-service-a", 8080);
        await catalogEntry(`http://${firstLeader}`, "process-service", "process-service-a");

        // Back to three healthy voters before the next failure, or two failures would cost quorum.
        await follower.restart();
        await waitFor(
          async () => {
            const health = await getJson<AutopilotHealth>(`http://${firstLeader}/v1/operator/autopilot/health`);
            const voters = health.Servers.filter((s) => s.Healthy && s.Voter);
            return health.Healthy && voters.length === 3 ? true : undefined;
          },
          { what: "three healthy voters after the follower's restart", timeoutMs: 60_000 },
        );

        const oldLeader = cluster.servers.find((s) => s.httpAddr === firstLeader)!;
        await oldLeader.kill();
        const newLeader = await cluster.leader();
        expect(newLeader).not.toBe(firstLeader);
        const survivor = cluster.servers.find((s) => s.running && s.httpAddr !== newLeader)!;
        await registerService(survivor.url, "process-service", "process-service-b", 8090);
        const entry = await catalogEntry(`http://${newLeader}`, "process-service", "process-service-b");
        expect(entry.ServicePort).toBe(8090);
      } finally {
        await cluster.stop();
      }
      for (const server of cluster.servers) expect(await refused(`${server.url}/v1/status/leader`)).toBe(true);
    },
    serverTestMs + 60_000,
  );

  test(
    "scripts/consul-cluster.sh starts the seed's servers and a client agent, and stops them",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "bpm-consul-script-"));
      const script = join(repo, "scripts", "consul-cluster.sh");
      try {
        const started = Bun.spawnSync([script, "start", "--dir", dir], { stderr: "pipe" });
        expect({ code: started.exitCode, stderr: started.exitCode === 0 ? "" : started.stderr.toString() }).toEqual({ code: 0, stderr: "" });
        const addresses = new Map(
          started.stdout.toString().trim().split("\n").map((line) => line.split(" ") as [string, string]),
        );
        expect([...addresses.keys()]).toEqual(["server-1", "server-2", "server-3", "client"]);
        const members = await getJson<Array<{ Name: string; Status: number }>>(`${addresses.get("client")}/v1/agent/members`);
        expect(members.map((m) => m.Name).sort()).toEqual(["consul-client-1", "consul-server-1", "consul-server-2", "consul-server-3"]);
        expect(await getJson<string>(`${addresses.get("client")}/v1/status/leader`)).not.toBe("");

        const stopped = Bun.spawnSync([script, "stop", "--dir", dir], { stderr: "pipe" });
        expect(stopped.exitCode).toBe(0);
        for (const url of addresses.values()) expect(await refused(`${url}/v1/status/leader`)).toBe(true);
      } finally {
        Bun.spawnSync([script, "stop", "--dir", dir]);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    serverTestMs,
  );
});

describe("postgresql", () => {
  test("answers select 1 through Bun's SQL client, in its own database, and stops", async () => {
    const postgres = await startPostgres();
    try {
      expect(postgres.url).toMatch(/^postgres:\/\/bpm:[^@]+@127\.0\.0\.1:\d+\/bpm$/);
      const sql = new SQL(postgres.url);
      try {
        const [row] = await sql`select 1 as one, current_database() as db`;
        expect(row).toEqual({ one: 1, db: "bpm" });
      } finally {
        await sql.close();
      }
    } finally {
      await postgres.stop();
    }
    const after = new SQL(postgres.url, { connectionTimeout: 2, max: 1 });
    await expect(after`select 1`).rejects.toThrow();
    await after.close();
  }, serverTestMs);

  test("keeps committed rows across kill -9 and restart", async () => {
    const postgres = await startPostgres();
    try {
      const sql = new SQL(postgres.url);
      await sql`create table t (id int primary key)`;
      await sql`insert into t values (1), (2)`;
      await sql.close();
      await postgres.kill();
      await postgres.restart();
      const again = new SQL(postgres.url);
      try {
        expect(await again`select id from t order by id`).toEqual([{ id: 1 }, { id: 2 }]);
      } finally {
        await again.close();
      }
    } finally {
      await postgres.stop();
    }
  }, serverTestMs);
});

interface JaegerTrace {
  traceID: string;
  spans: Array<{ spanID: string; operationName: string; processID: string }>;
  processes: Record<string, { serviceName: string }>;
}

describe("jaeger v2", () => {
  test("accepts an OTLP/HTTP JSON span and returns it from its query API", async () => {
    const jaeger = await startJaeger();
    try {
      const traceId = crypto.randomUUID().replaceAll("-", "");
      const spanId = traceId.slice(0, 16);
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      const posted = await fetch(`${jaeger.otlpHttpEndpoint}/v1/traces`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          resourceSpans: [{
            resource: { attributes: [{ key: "service.name", value: { stringValue: "servers-test" } }] },
            scopeSpans: [{
              scope: { name: "servers.test.ts" },
              spans: [{
                traceId, spanId, name: "GET /api/tasks/:id", kind: 2,
                startTimeUnixNano: String(nowNs - 5_000_000n), endTimeUnixNano: String(nowNs),
                attributes: [{ key: "http.response.status_code", value: { intValue: "200" } }],
              }],
            }],
          }],
        }),
      });
      expect(posted.status).toBe(200);

      const trace = await waitFor(
        async () => {
          const response = await fetch(`${jaeger.queryUrl}/api/traces/${traceId}`);
          if (response.status === 404) return undefined;
          const body = (await response.json()) as { data: JaegerTrace[] };
          return body.data[0];
        },
        { what: `trace ${traceId} in jaeger`, timeoutMs: 15_000 },
      );
      expect(trace.traceID).toBe(traceId);
      expect(trace.spans).toHaveLength(1);
      const [span] = trace.spans;
      expect(span?.spanID).toBe(spanId);
      expect(span?.operationName).toBe("GET /api/tasks/:id");
      expect(trace.processes[span!.processID]?.serviceName).toBe("servers-test");
    } finally {
      await jaeger.stop();
    }
    expect(await refused(`${jaeger.queryUrl}/api/services`)).toBe(true);
  }, serverTestMs);
});

describe("go tools", () => {
  test("grpcurl and ghz run and report their pinned release, not a dev build", () => {
    for (const [tool, flag] of [["grpcurl", "-version"], ["ghz", "--version"]] as const) {
      const run = Bun.spawnSync([toolPath(tool), flag], { stdout: "pipe", stderr: "pipe" });
      const said = `${run.stdout.toString()}${run.stderr.toString()}`.trim();
      expect({ tool, code: run.exitCode, said }).toEqual({ tool, code: 0, said: expect.stringMatching(/v\d+\.\d+\.\d+/) });
    }
  });
});
