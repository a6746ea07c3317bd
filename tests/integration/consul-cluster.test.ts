// The seed's 3-server cluster (config/consul/server-{1,2,3}.hcl via tests/support/consul.ts):
// registration and discovery keep working when a follower dies, and when the leader dies.
import { afterAll, expect, test } from "bun:test";
import type { BpmProcess } from "../support/bpm.ts";
import { type ConsulCluster, startConsulCluster } from "../support/servers.ts";
import { gatewayDiscovery, servedCount, serviceId, startWithConsul, steadyTraffic, waitPassing, waitUntil } from "./consul-helpers.ts";

let cluster: ConsulCluster | undefined;
const procs: BpmProcess[] = [];
afterAll(async () => {
  for (const p of procs) await p.stop().catch(() => p.kill());
  await cluster?.stop();
});

test("3 servers: a follower killed, then the leader killed → a new leader; registration and discovery keep working, traffic never fails", async () => {
  cluster = await startConsulCluster();
  const leaderAddr = await cluster.leader();
  // bpm talks to one server as its local agent; the servers we kill are the others
  const [agent, otherFollower] = cluster.servers.filter((s) => s.httpAddr !== leaderAddr);
  const leader = cluster.servers.find((s) => s.httpAddr === leaderAddr)!;
  const start = async (role: "gateway" | "task-service") => {
    const p = await startWithConsul(role, agent!.httpAddr);
    procs.push(p);
    return p;
  };
  const gw = await start("gateway");
  const ts1 = await start("task-service");
  await waitPassing(agent!.url, "task-service", serviceId("task-service", ts1), 20_000);
  await waitUntil("gateway routes to ts1", async () => (await gatewayDiscovery(gw)).instances["task-service"] === 1, 5_000);
  const traffic = await steadyTraffic(gw);

  // one follower down: 2 of 3 keep quorum
  await otherFollower!.kill();
  const ts2 = await start("task-service");
  await waitPassing(agent!.url, "task-service", serviceId("task-service", ts2), 20_000);
  await waitUntil("gateway routes to ts2", async () => (await servedCount(ts2)) > 0, 5_000);

  // bring it back so that losing the leader still leaves a quorum
  await otherFollower!.restart();
  await waitUntil("all three servers agree on a leader", async () => {
    const seen = await Promise.all(cluster!.servers.map(async (s) => (await (await fetch(`${s.url}/v1/status/leader`, { signal: AbortSignal.timeout(1_000) })).json()) as string));
    return seen.every((l) => l !== "" && l === seen[0]);
  }, 30_000, 200);

  const killedAt = Date.now();
  await leader.kill();
  const newLeader = await cluster.leader({ timeoutMs: 30_000 });
  const electedAt = Date.now();
  expect(newLeader).not.toBe(leaderAddr);
  const ts3 = await start("task-service");
  await waitPassing(agent!.url, "task-service", serviceId("task-service", ts3), 20_000);
  await waitUntil("gateway routes to ts3", async () => (await servedCount(ts3)) > 0, 5_000);
  expect((await gatewayDiscovery(gw)).instances["task-service"]).toBe(3);

  const result = await traffic.stop();
  console.log(`[consul] cluster: leader killed → new leader ${newLeader} seen after ${electedAt - killedAt} ms; traffic throughout ${JSON.stringify(result.statuses)}`);
  expect(result.failed).toBe(0);
}, 150_000);
