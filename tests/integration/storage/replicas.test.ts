// Two task-service processes of the compiled binary on one PostgreSQL: started at the same moment
// on a fresh database, they share tasks, and each one's streams carry the other's writes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { REPO, freePort, json, postJson, runBpm, startBpm, type BpmProcess } from "../../support/bpm.ts";
import { startPostgres, type PostgresServer } from "../../support/postgres.ts";
import { freshDatabase } from "./databases.ts";

let pg: PostgresServer;
let url: string;
let a: BpmProcess;
let b: BpmProcess;

beforeAll(async () => {
  pg = await startPostgres();
  url = await freshDatabase(pg, "replicas");
  // at the same moment, so both race to migrate the empty database
  // replication, not credentials, is tested here: auth off (every caller is the local operator)
  const replica = () => startBpm({ roles: ["task-service"], env: { DATABASE_URL: url }, config: { auth: { enabled: false } } });
  [a, b] = await Promise.all([replica(), replica()]);
}, 90_000);
afterAll(async () => {
  await a?.kill().catch(() => {});
  await b?.kill().catch(() => {});
  await pg?.stop();
}, 60_000);

const api = (p: BpmProcess) => `${p.url("task-service")}/api/tasks`;

interface Seen {
  type: string;
  id: number;
  title: string;
  status: string;
}

/** Collects server-sent events from `url` until aborted. */
function sse(streamUrl: string): { events: Seen[]; ready: Promise<void>; close(): void } {
  const events: Seen[] = [];
  const ac = new AbortController();
  const ready = (async () => {
    const res = await fetch(streamUrl, { signal: ac.signal });
    const reader = res.body!.getReader();
    void (async () => {
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
        if (done) return;
        buf += dec.decode(value, { stream: true });
        let end: number;
        while ((end = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const type = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (type && data) {
            const e = JSON.parse(data);
            events.push({ type, id: e.task.id, title: e.task.title, status: e.task.status });
          }
        }
      }
    })();
  })();
  return { events, ready, close: () => ac.abort() };
}

const pkg = grpc.loadPackageDefinition(
  protoLoader.loadSync(join(REPO, "protos/task.proto"), { keepCase: true, longs: Number, enums: String, defaults: true }),
) as any;

/** StreamTaskUpdates on `port` for one user. */
function grpcStream(port: number, userId: number): { events: Seen[]; close(): void } {
  const client = new pkg.taskservice.TaskService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const events: Seen[] = [];
  const call = client.StreamTaskUpdates({ user_id: userId });
  call.on("data", (e: any) => events.push({ type: e.event_type, id: e.task.id, title: e.task.title, status: e.task.status }));
  call.on("error", () => {}); // CANCELLED when we close
  return {
    events,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

async function subscribers(p: BpmProcess): Promise<number> {
  const h = await json(fetch(`${p.url("task-service")}/health`));
  return h.body.details.storage.details.subscribers;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe("two task-service replicas on one PostgreSQL", () => {
  test("both start on the same fresh database; each migration is recorded once", async () => {
    const sql = new SQL(url, { max: 1 });
    try {
      const rows = await sql`SELECT namespace || '/' || id AS m FROM schema_migrations ORDER BY 1`;
      expect(rows.map((r: { m: string }) => r.m)).toEqual(["bpm-events/001_events", "task-service/001_init", "task-service/002_list_indexes"]);
    } finally {
      await sql.close();
    }
    for (const p of [a, b]) {
      const h = await json(fetch(`${p.url("task-service")}/health`));
      expect(h.status).toBe(200);
      expect(h.body.details.storage.details.engine).toBe("postgresql");
    }
  });

  test("a task created on A is read, listed, updated and deleted through B", async () => {
    const created = await json(postJson(api(a), { title: "made on A", user_id: 501 }));
    expect(created.status).toBe(201);
    const got = await json(fetch(`${api(b)}/${created.body.id}`));
    expect(got).toMatchObject({ status: 200, body: created.body });
    const listed = await json(fetch(`${api(b)}?user_id=501`));
    expect(listed.body).toMatchObject({ total: 1, items: [created.body] });
    // the same idempotency key on the other replica returns the first task
    const keyed = await json(postJson(api(a), { title: "keyed", user_id: 501 }, { "idempotency-key": "step-42" }));
    const again = await json(postJson(api(b), { title: "keyed, retried", user_id: 501 }, { "idempotency-key": "step-42" }));
    expect([keyed.status, again.status]).toEqual([201, 200]);
    expect(again.body).toEqual(keyed.body);
    const patched = await json(fetch(`${api(b)}/${created.body.id}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: '{"status":"done"}' }));
    expect(patched.body.status).toBe("done");
    expect((await json(fetch(`${api(a)}/${created.body.id}`))).body.status).toBe("done");
    expect((await fetch(`${api(b)}/${created.body.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await fetch(`${api(a)}/${created.body.id}`)).status).toBe(404);
  });

  test("SSE and gRPC streams on B carry A's writes, and B's own writes once", async () => {
    const user = 777;
    const before = await subscribers(b);
    const rest = sse(`${api(b)}/stream?user_id=${user}`);
    await rest.ready;
    const rpc = grpcStream(b.ports["task-service"].grpc!, user);
    try {
      await until("both streams subscribed on B", async () => (await subscribers(b)) === before + 2);
      const t = await json(postJson(api(a), { title: "from A", user_id: user }));
      await fetch(`${api(a)}/${t.body.id}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: '{"status":"in_progress"}' });
      await postJson(api(a), { title: "someone else's", user_id: user + 1 });
      await fetch(`${api(a)}/${t.body.id}`, { method: "DELETE" });
      // notices from two replicas may cross (docs/storage.md "Crossing notices"): B writes once A's three arrived
      await until("A's three events on both streams", () => rest.events.length >= 3 && rpc.events.length >= 3);
      const own = await json(postJson(api(b), { title: "from B", user_id: user }));

      const want: Seen[] = [
        { type: "created", id: t.body.id, title: "from A", status: "todo" },
        { type: "updated", id: t.body.id, title: "from A", status: "in_progress" },
        { type: "deleted", id: t.body.id, title: "from A", status: "in_progress" },
        { type: "created", id: own.body.id, title: "from B", status: "todo" },
      ];
      await until("four events on both streams", () => rest.events.length >= 4 && rpc.events.length >= 4);
      await Bun.sleep(200); // a duplicate would show up by now
      expect(rest.events).toEqual(want);
      expect(rpc.events).toEqual(want);
    } finally {
      rest.close();
      rpc.close();
    }
  });

  test("both replicas stop cleanly on SIGTERM", async () => {
    expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0]);
  });
});

describe("startup against an unusable database", () => {
  test("unreachable server: exit 1 with one line naming host:port/database, not the password", async () => {
    const port = await freePort();
    const bad = `postgres://bpm:s3cret-pw@127.0.0.1:${port}/bpm`;
    const r = await runBpm(["--role=task-service", "--port", String(await freePort()), "--grpc-port", String(await freePort())], { env: { DATABASE_URL: bad } });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines.at(-1)).toMatch(new RegExp(`^bpm failed to start: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}/bpm: `));
    expect(r.stderr + r.stdout).not.toContain("s3cret-pw");
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  test("a URL that is not postgres:// is refused before connecting", async () => {
    const r = await runBpm(["--role=task-service", "--port", String(await freePort()), "--grpc-port", String(await freePort())], { env: { DATABASE_URL: "mysql://root@127.0.0.1/x" } });
    expect(r.code).toBe(2); // a bad config value, like any other
    expect(r.stderr.trim()).toBe('config: storage.database_url must be a postgres:// or postgresql:// URL, got "mysql://root@127.0.0.1/x"');
  });
});
