import { describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { join } from "node:path";
import { authHeaders, json, postJson, REPO, startBpm, type BpmProcess } from "../support/bpm.ts";
import { waitFor } from "../support/process.ts";

/** Durability, not credentials: auth off (every caller is the local operator). */
const AUTH_OFF = { auth: { enabled: false } };

/** Resolves once bpm has logged that it handles the first signal (needs log level info). */
function shuttingDown(bpm: BpmProcess): Promise<true> {
  return waitFor(async () => (bpm.output().includes('"shutting down"') ? true : undefined), { what: "bpm logs shutting down", timeoutMs: 10_000, intervalMs: 10 });
}

/** Settles with `value` when `p` does not settle first: a guard against a hang, not a timing check. */
function orHang<T>(p: Promise<T>, ms: number): Promise<T | "hung"> {
  return Promise.race([p, Bun.sleep(ms).then(() => "hung" as const)]);
}

/**
 * A gateway (log level info) in front of a task-service in a process of its own, so stopping
 * the gateway leaves its upstream serving.
 */
async function gatewayBeforeTasks(config: Record<string, unknown>): Promise<{ tasks: BpmProcess; bpm: BpmProcess }> {
  const tasks = await startBpm({ roles: ["task-service"] });
  const upstream = { address: "127.0.0.1", port: tasks.ports["task-service"].http, grpc_port: tasks.ports["task-service"].grpc };
  const bpm = await startBpm({ roles: ["gateway"], config: { ...config, log: { level: "info" }, discovery: { static: { "task-service": [upstream] } } } });
  return { tasks, bpm };
}

/** A POST through the gateway whose body stops halfway until `release()`; resolves once the gateway counts it in flight. */
async function slowUpload(bpm: BpmProcess): Promise<{ response: Promise<Response>; release: () => void }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const body = new ReadableStream({
    async start(c) {
      c.enqueue(new TextEncoder().encode('{"title":"slow",'));
      await released;
      c.enqueue(new TextEncoder().encode('"user_id":5}'));
      c.close();
    },
  });
  const response = fetch(`${bpm.url("gateway")}/api/tasks`, { method: "POST", headers: { "content-type": "application/json", ...(await authHeaders(5)) }, body, duplex: "half" } as RequestInit);
  await waitFor(
    async () => {
      const health = await (await fetch(`${bpm.url("gateway")}/health`)).text();
      return Number(/"inflight":(\d+)/.exec(health)?.[1] ?? 0) >= 1 ? true : undefined;
    },
    { what: "the upload in flight at the gateway", timeoutMs: 10_000, intervalMs: 10 },
  );
  return { response, release };
}

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
    // kill once enough writes were acknowledged, with the writers still going
    await waitFor(async () => (acked.length >= 50 ? true : undefined), { what: "50 acknowledged writes", intervalMs: 10 });
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
    await waitFor(async () => (statuses.length > 0 ? true : undefined), { what: "the first health status", timeoutMs: 10_000, intervalMs: 10 });
    expect(statuses[0]).toBe("SERVING");

    const exit = bpm.stop(10_000);
    // the stream ends and the process exits 0 (stop() fails if it has to SIGKILL)
    expect(await orHang(sseDone, 10_000)).toBe("ended");
    expect(await exit).toBe(0);
    expect(statuses).toContain("NOT_SERVING");
    client.close();
  }, 30_000);

  test("an in-flight request finishes during the grace period", async () => {
    const { tasks, bpm } = await gatewayBeforeTasks({});
    // an upload through the gateway whose second half is sent only after SIGTERM was handled
    const upload = await slowUpload(bpm);
    bpm.proc.kill("SIGTERM");
    await shuttingDown(bpm);
    upload.release();
    const res = await upload.response;
    expect(res.status).toBe(201);
    expect(await bpm.proc.exited).toBe(0);
    await tasks.stop();
  }, 30_000);

  test("a second signal exits at once", async () => {
    const { tasks, bpm } = await gatewayBeforeTasks({ http: { shutdown_grace: "20s" } });
    // an upload that never completes keeps the first shutdown draining for the whole grace
    const upload = await slowUpload(bpm);
    upload.response.catch(() => {});
    bpm.proc.kill("SIGTERM");
    await shuttingDown(bpm);
    bpm.proc.kill("SIGTERM");
    // the second signal exits with 1 ("exiting now"); the first alone would wait out the grace and exit 0
    expect(await orHang(bpm.proc.exited, 30_000)).toBe(1);
    upload.release();
    await tasks.stop();
  }, 60_000);
});

describe("robustness", () => {
  test("1,000 idle connections, abrupt disconnects and garbage on the gRPC port do not bring it down", async () => {
    const bpm = await startBpm({ roles: ["task-service"], config: AUTH_OFF });
    const port = bpm.ports["task-service"];
    const sockets = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => Bun.connect({ hostname: "127.0.0.1", port: i % 2 ? port.http : port.grpc!, socket: { data() {}, error() {} } })),
    );
    // malformed HTTP/2: a preface followed by nonsense frames
    let badClosed = false;
    const bad = await Bun.connect({ hostname: "127.0.0.1", port: port.grpc!, socket: { data() {}, error() {}, close: () => void (badClosed = true) } });
    bad.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + "\x00\x00\x10\x01\x04\x00\x00\x00\x01" + "garbage-garbage!");
    const half = await Bun.connect({ hostname: "127.0.0.1", port: port.http, socket: { data() {}, error() {} } });
    half.write("POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\ncontent-type: application/json\r\n\r\n{\"title\":");
    half.end();
    // the server has read the garbage once it closes that connection
    await waitFor(async () => (badClosed ? true : undefined), { what: "the gRPC port closing the garbage connection", timeoutMs: 10_000, intervalMs: 10 });
    for (const s of sockets) s.end();
    bad.end();
    const r = await json(postJson(`${bpm.url("task-service")}/api/tasks`, { title: "still alive", user_id: 1 }));
    expect(r.status).toBe(201);
    expect(bpm.proc.exitCode).toBeNull();
    await bpm.stop();
  }, 30_000);
});
