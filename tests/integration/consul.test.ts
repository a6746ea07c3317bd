// Registration and discovery against a real Consul agent (tests/support/consul.ts starts `consul agent -dev`).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pkg from "../../package.json" with { type: "json" };
import type { BpmProcess } from "../support/bpm.ts";
import { type ConsulAgent, startConsul } from "../support/servers.ts";
import { gatewayDiscovery, passingIds, servedCount, serviceId, startWithConsul, steadyTraffic, waitPassing, waitUntil } from "./consul-helpers.ts";

let consul: ConsulAgent;
const procs: BpmProcess[] = [];
const track = (p: BpmProcess) => (procs.push(p), p);

beforeAll(async () => {
  consul = await startConsul();
});
afterAll(async () => {
  for (const p of procs) await p.stop().catch(() => p.kill());
  await consul?.stop();
});

interface CatalogEntry {
  ServiceID: string;
  ServiceName: string;
  ServiceAddress: string;
  ServicePort: number;
  ServiceTags: string[];
  ServiceMeta: Record<string, string>;
  ServiceWeights: { Passing: number; Warning: number };
}
interface AgentCheck {
  CheckID: string;
  ServiceID: string;
  Type: string;
  Status: string;
  Interval: string;
  Timeout: string;
  Output: string;
}

async function catalog(service: string): Promise<CatalogEntry[]> {
  return (await (await fetch(`${consul.url}/v1/catalog/service/${service}`)).json()) as CatalogEntry[];
}
async function agentChecks(serviceIdValue: string): Promise<AgentCheck[]> {
  const all = (await (await fetch(`${consul.url}/v1/agent/checks`)).json()) as Record<string, AgentCheck>;
  return Object.values(all).filter((c) => c.ServiceID === serviceIdValue).sort((a, b) => a.Type.localeCompare(b.Type));
}

describe("registration with a real Consul agent", () => {
  test("a task-service registers as DESIGN.md says, read back from the catalog field by field, and both checks go passing", async () => {
    const ts = track(await startWithConsul("task-service", consul.httpAddr));
    const id = serviceId("task-service", ts);
    await waitPassing(consul.url, "task-service", id, 15_000);

    const entry = (await catalog("task-service")).find((e) => e.ServiceID === id);
    expect(entry).toBeDefined();
    expect(entry!.ServiceName).toBe("task-service");
    expect(entry!.ServiceAddress).toBe("127.0.0.1");
    expect(entry!.ServicePort).toBe(ts.ports["task-service"].http);
    expect(entry!.ServiceTags).toEqual(["v1", "production"]);
    expect(entry!.ServiceMeta).toEqual({ grpc_port: String(ts.ports["task-service"].grpc), version: pkg.version, role: "task-service" });
    expect(entry!.ServiceWeights).toEqual({ Passing: 100, Warning: 1 });

    const checks = await agentChecks(id);
    expect(checks.map((c) => [c.Type, c.Status, c.Interval, c.Timeout])).toEqual([
      ["grpc", "passing", "1s", "1s"],
      ["http", "passing", "1s", "1s"],
    ]);
    expect(checks[0]!.Output).toContain(`127.0.0.1:${ts.ports["task-service"].grpc}: success`);
    expect(checks[1]!.Output).toContain(`GET http://127.0.0.1:${ts.ports["task-service"].http}/health: 200 OK`);
  }, 30_000);

  test("the gateway registers with its HTTP check only (it has no gRPC port)", async () => {
    const gw = track(await startWithConsul("gateway", consul.httpAddr));
    const id = serviceId("gateway", gw);
    await waitPassing(consul.url, "gateway", id, 15_000);
    const entry = (await catalog("gateway")).find((e) => e.ServiceID === id)!;
    expect(entry.ServiceMeta).toEqual({ version: pkg.version, role: "gateway" });
    expect((await agentChecks(id)).map((c) => [c.Type, c.Status])).toEqual([["http", "passing"]]);
  }, 30_000);

  test("SIGTERM: the instance leaves Consul at once and exits cleanly", async () => {
    const ts = await startWithConsul("task-service", consul.httpAddr);
    const id = serviceId("task-service", ts);
    await waitPassing(consul.url, "task-service", id, 15_000);
    const t0 = Date.now();
    const exited = ts.stop();
    const goneAt = await waitUntil("deregistration", async () => !(await catalog("task-service")).some((e) => e.ServiceID === id), 5_000, 5);
    expect(await exited).toBe(0);
    console.log(`[consul] SIGTERM → gone from the catalog in ${goneAt - t0} ms`);
    expect(goneAt - t0).toBeLessThan(1_000);
    expect(await agentChecks(id)).toEqual([]);
  }, 30_000);

  test("kill -9: checks go critical and the instance leaves discovery within about one check interval", async () => {
    const gw = track(await startWithConsul("gateway", consul.httpAddr));
    const ts = await startWithConsul("task-service", consul.httpAddr);
    const id = serviceId("task-service", ts);
    await waitPassing(consul.url, "task-service", id, 15_000);
    // the gateway must have learned of the instance first, or "one fewer" is never reached
    const passing = (await passingIds(consul.url, "task-service")).length;
    await waitUntil("gateway sees the instance", async () => (await gatewayDiscovery(gw)).instances["task-service"] === passing, 5_000);
    const before = passing;

    const t0 = Date.now();
    await ts.kill();
    const goneAt = await waitUntil("gateway drops the killed instance", async () => (await gatewayDiscovery(gw)).instances["task-service"] === before - 1, 10_000, 10);
    console.log(`[consul] kill -9 → out of the gateway's discovery in ${goneAt - t0} ms (check interval 1 s, timeout 1 s)`);
    // at most one interval until the next check, plus its timeout, plus propagation
    expect(goneAt - t0).toBeLessThan(3_500);
    const statuses = (await agentChecks(id)).map((c) => c.Status);
    expect(statuses).toContain("critical");
    expect(await passingIds(consul.url, "task-service")).not.toContain(id);
  }, 30_000);

  test("a new instance gets traffic through the gateway without restarting anything (time from passing to first routed request)", async () => {
    const gw = track(await startWithConsul("gateway", consul.httpAddr, { config: { load_balancer: { algorithm: "round_robin", sticky_sessions: { enabled: false } } } }));
    const first = track(await startWithConsul("task-service", consul.httpAddr));
    await waitPassing(consul.url, "task-service", serviceId("task-service", first), 15_000);
    await waitUntil("gateway routes to the first instance", async () => (await fetchThrough(gw)) && (await servedCount(first)) > 0, 5_000);

    const traffic = await steadyTraffic(gw, 1);
    const second = track(await startWithConsul("task-service", consul.httpAddr));
    const passingAt = await waitPassing(consul.url, "task-service", serviceId("task-service", second), 15_000);
    const routedAt = await waitUntil("first request routed to the new instance", async () => (await servedCount(second)) > 0, 5_000, 2);
    const result = await traffic.stop();
    console.log(`[consul] new instance: passing → first routed request in ${routedAt - passingAt} ms; traffic ${JSON.stringify(result.statuses)}`);
    expect(routedAt - passingAt).toBeLessThan(1_000);
    expect(result.failed).toBe(0);
  }, 30_000);
});

async function fetchThrough(gw: BpmProcess): Promise<boolean> {
  const { authHeaders } = await import("../support/bpm.ts");
  const res = await fetch(`${gw.url()}/api/tasks?user_id=1`, { headers: await authHeaders(1) });
  await res.arrayBuffer();
  return res.ok;
}
