// With http_tls and grpc_tls on, the checks a role registers with a real Consul agent use TLS
// and verify the role's certificate (the agent trusts the CA through enable_agent_tls_for_checks).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { BpmProcess } from "../support/bpm.ts";
import { type ConsulAgent, startConsul } from "../support/servers.ts";
import { makeTestCerts, type TestCerts } from "../support/tls.ts";
import { serviceId, startWithConsul, waitPassing, waitUntil } from "./consul-helpers.ts";

let consul: ConsulAgent;
let certs: TestCerts;
const procs: BpmProcess[] = [];

beforeAll(async () => {
  certs = makeTestCerts("bpm-consul-tls-");
  consul = await startConsul({ extraConfig: { enable_agent_tls_for_checks: true, tls: { defaults: { ca_file: certs.files.ca } } } });
});
afterAll(async () => {
  for (const p of procs) await p.stop().catch(() => p.kill());
  await consul?.stop();
});

interface AgentCheck {
  CheckID: string;
  ServiceID: string;
  Status: string;
  Output: string;
}
async function agentChecks(id: string): Promise<AgentCheck[]> {
  const all = (await (await fetch(`${consul.url}/v1/agent/checks`)).json()) as Record<string, AgentCheck>;
  return Object.values(all).filter((c) => c.ServiceID === id).sort((a, b) => a.CheckID.localeCompare(b.CheckID));
}

function startTls(serverName: string): Promise<BpmProcess> {
  const tls = { enabled: true, cert_file: certs.files.cert, key_file: certs.files.key, ca_file: certs.files.ca, server_name: serverName };
  return startWithConsul("task-service", consul.httpAddr, { config: { http_tls: tls, grpc_tls: tls }, https: { ca: certs.pem.ca, roles: ["task-service"] } });
}

describe("Consul checks over TLS", () => {
  test("the HTTPS and TLS gRPC checks verify the certificate and go passing", async () => {
    const ts = await startTls("localhost");
    procs.push(ts);
    const id = serviceId("task-service", ts);
    await waitPassing(consul.url, "task-service", id, 20_000);
    const checks = await agentChecks(id);
    expect(checks.map((c) => c.CheckID)).toEqual([`service:${id}:grpc`, `service:${id}:http`]);
    for (const c of checks) expect(c.Status).toBe("passing");
  });

  test("a certificate that does not carry the checked name keeps both checks critical", async () => {
    const ts = await startTls("elsewhere.example");
    procs.push(ts);
    const id = serviceId("task-service", ts);
    // the role itself serves (its own clients are not involved); only Consul's verification fails
    expect((await fetch(`${ts.url("task-service")}/health`, { tls: { ca: certs.pem.ca } })).status).toBe(200);
    let checks: AgentCheck[] = [];
    await waitUntil(
      "both checks ran and failed",
      async () => {
        checks = await agentChecks(id);
        return checks.length === 2 && checks.every((c) => c.Status === "critical" && c.Output !== "");
      },
      20_000,
    );
    for (const c of checks) expect(c.Output).toContain("elsewhere.example");
  });
});
