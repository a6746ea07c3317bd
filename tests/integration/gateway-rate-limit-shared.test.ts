import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { authHeaders, type BpmProcess, startBpm } from "../support/bpm.ts";
import { startPostgres, type PostgresServer } from "../support/servers.ts";

/** The shared limit's completed syncs, from the gateway's /health. */
async function syncs(bpm: BpmProcess): Promise<number> {
  const health = (await (await fetch(`${bpm.url()}/health`)).json()) as { details?: Record<string, { details?: { syncs?: number } }> };
  const n = health.details?.["rate_limit"]?.details?.syncs;
  if (typeof n !== "number") throw new Error(`no rate_limit syncs on /health: ${JSON.stringify(health)}`);
  return n;
}

describe("one rate limit across gateway replicas sharing PostgreSQL", () => {
  let pg: PostgresServer;
  let up: ReturnType<typeof Bun.serve>;
  const gateways: BpmProcess[] = [];
  beforeAll(async () => {
    pg = await startPostgres();
    up = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ ok: true }) });
    for (let i = 0; i < 2; i++) {
      gateways.push(await startBpm({
        roles: ["gateway"],
        env: { DATABASE_URL: pg.url },
        config: {
          gateway: { rate_limit: { requests: 100, window: "60s", sync_interval: "10ms" } },
          discovery: { static: { "task-service": [{ address: "127.0.0.1", port: up.port }] } },
        },
      }));
    }
  }, 120_000);
  afterAll(async () => {
    for (const g of gateways) await g.stop();
    up?.stop(true);
    await pg?.stop();
  });

  test("a client alternating between two gateways is refused at request 101 when each request is synced", async () => {
    const h = await authHeaders(501);
    let first429 = 0;
    for (let i = 1; i <= 130 && first429 === 0; i++) {
      const g = gateways[i % 2]!;
      const res = await fetch(`${g.url()}/api/tasks/1`, { headers: h });
      await res.arrayBuffer();
      if (res.status === 429) first429 = i;
      else expect(res.status).toBe(200);
      // both replicas finish a sync that began after this request: the next one knows it
      const marks = await Promise.all(gateways.map(syncs));
      for (let k = 0; k < 2; k++) while ((await syncs(gateways[k]!)) < marks[k]! + 2) await Bun.sleep(2);
    }
    expect(first429).toBe(101);
  });

  test("a burst without waiting stays within the documented bound", async () => {
    const h = await authHeaders(502);
    let first429 = 0;
    for (let i = 1; i <= 300 && first429 === 0; i++) {
      const res = await fetch(`${gateways[i % 2]!.url()}/api/tasks/1`, { headers: h });
      await res.arrayBuffer();
      if (res.status === 429) first429 = i;
    }
    // never before the limit; past it by at most what the other replica admitted since the last sync
    expect(first429).toBeGreaterThanOrEqual(101);
    console.log(`shared limit, client alternating without waiting: first 429 at request ${first429}`);
  });
});
