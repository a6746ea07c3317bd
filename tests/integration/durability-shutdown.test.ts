import { describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { join } from "node:path";
import { authHeaders, json, postJson, REPO, startBpm } from "../support/bpm.ts";

/** Durability, not credentials: auth off (every caller is the local operator). */
const AUTH_OFF = { auth: { enabled: false } };

describe("durability", () => {
  test("tasks acknowledged just before kill -9 are there after restart", async () => {
    const first = await startBpm({ roles: ["task-service"], config: AUTH_OFF });
    const base = first.url("task-service");
    const acked: number[] = [];
    // writes in flight while the process is killed: only acknowledged ones must survive
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; ; i++) {
        const r = await postJson(`${base}/api/tasks`, { title: `durable ${w}-${i}`, user_id: 777 }).catch(() => undefined);
        if (!r || r.status !== 201) return;
        acked.push(((await r.json()) as { id: number }).id);
      }
    });
    await Bun.sleep(700);
    first.proc.kill("SIGKILL");
    await Promise.all(writers);
    await first.proc.exited;
    expect(acked.length).toBeGreaterThan(20);

    const second = await startBpm({ roles: ["task-service"], config: AUTH_OFF, dataDir: first.dataDir, ports: first.ports });
    try {
      const ids = new Set<number>();
      for (let offset = 0; ; offset += 1000) {
        const page = await json(fetch(`${second.url("task-service")}/api/tasks?user_id=777&limit=1000&offset=${offset}`));
        for (const t of page.body.items as { id: number }[]) ids.add(t.id);
        if (page.body.items.length < 1000) break;
      }
      const lost = acked.filter((id) => !ids.has(id));
      expect(lost).toEqual([]);
    } finally {
      await second.stop();
    }
  }, 60_000);
});

describe("graceful shutdown", () => {
  test("SIGTERM: /health turns DOWN and gRPC health NOT_SERVING, open streams end, exit 0", async () => {
    const bpm = await startBpm({ roles: ["task-service"], config: { ...AUTH_OFF, http: { shutdown_grace: "2s" } } });
    const def = protoLoader.loadSync(join(REPO, "protos/grpc/health/v1/health.proto"), { keepCase: true, enums: String, defaults: true });
    const Health = (grpc.loadPackageDefinition(def) as any).grpc.health.v1.Health;
    const client = new Health(`127.0.0.1:${bpm.ports["task-service"].grpc}`, grpc.credentials.createInsecure());
    const statuses: string[] = [];
    const watch = client.Watch({ service: "" });
    watch.on("data", (m: { status: string }) => statuses.push(m.status));
    watch.on("error", () => {});
    const sse = await fetch(`${bpm.url("task-service")}/api/tasks/stream?user_id=1`);
    const sseDone = (async () => {
      for await (const _ of sse.body!) {
        // drain until the server ends it
      }
      return "ended";
    })();
    for (let i = 0; i < 50 && statuses.length === 0; i++) await Bun.sleep(20);
    expect(statuses[0]).toBe("SERVING");

    const t0 = Date.now();
    const exit = bpm.stop(10_000);
    expect(await Promise.race([sseDone, Bun.sleep(3_000).then(() => "still open")])).toBe("ended");
    expect(await exit).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(statuses).toContain("NOT_SERVING");
    client.close();
  }, 30_000);

  test("an in-flight request finishes during the grace period", async () => {
    const bpm = await startBpm({ roles: ["gateway", "task-service"] });
    // a slow upload through the gateway: it is in flight when SIGTERM arrives
    const body = new ReadableStream({
      async start(c) {
        c.enqueue(new TextEncoder().encode('{"title":"slow",'));
        await Bun.sleep(600);
        c.enqueue(new TextEncoder().encode('"user_id":5}'));
        c.close();
      },
    });
    const pending = fetch(`${bpm.url("gateway")}/api/tasks`, { method: "POST", headers: { "content-type": "application/json", ...(await authHeaders(5)) }, body, duplex: "half" } as RequestInit);
    await Bun.sleep(200);
    const exit = bpm.stop();
    const res = await pending;
    expect(res.status).toBe(201);
    expect(await exit).toBe(0);
  }, 30_000);

  test("a second signal exits at once", async () => {
    const bpm = await startBpm({ roles: ["task-service"], config: { ...AUTH_OFF, http: { shutdown_grace: "20s" } } });
    const sse = await fetch(`${bpm.url("task-service")}/api/tasks/stream`);
    void sse;
    bpm.proc.kill("SIGTERM");
    await Bun.sleep(100);
    bpm.proc.kill("SIGTERM");
    const code = await Promise.race([bpm.proc.exited, Bun.sleep(3_000).then(() => "hung")]);
    expect(code).not.toBe("hung");
  }, 30_000);
});

describe("robustness", () => {
  test("1,000 idle connections, abrupt disconnects and garbage on the gRPC port do not bring it down", async () => {
    const bpm = await startBpm({ roles: ["task-service"], config: AUTH_OFF });
    const port = bpm.ports["task-service"];
    const sockets = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => Bun.connect({ hostname: "127.0.0.1", port: i % 2 ? port.http : port.grpc!, socket: { data() {}, error() {} } })),
    );
    // malformed HTTP/2: a preface followed by nonsense frames
    const bad = await Bun.connect({ hostname: "127.0.0.1", port: port.grpc!, socket: { data() {}, error() {} } });
    bad.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + "\x00\x00\x10\x01\x04\x00\x00\x00\x01" + "garbage-garbage!");
    const half = await Bun.connect({ hostname: "127.0.0.1", port: port.http, socket: { data() {}, error() {} } });
    half.write("POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\ncontent-type: application/json\r\n\r\n{\"title\":");
    half.end();
    await Bun.sleep(300);
    for (const s of sockets) s.end();
    bad.end();
    const r = await json(postJson(`${bpm.url("task-service")}/api/tasks`, { title: "still alive", user_id: 1 }));
    expect(r.status).toBe(201);
    expect(bpm.proc.exitCode).toBeNull();
    await bpm.stop();
  }, 30_000);
});
