import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { REPO, startBpm, type BpmProcess } from "../support/bpm.ts";
import { toolPath } from "../support/tools.ts";

/** task-service alone with auth off: every caller is the local operator (docs/security.md), as before credentials; tests/integration/authorization.test.ts covers auth on. */
const AUTH_OFF = { auth: { enabled: false } };

let bpm: BpmProcess;
let addr: string;
beforeAll(async () => {
  bpm = await startBpm({ roles: ["task-service"], config: AUTH_OFF });
  addr = `127.0.0.1:${bpm.ports["task-service"].grpc}`;
});
afterAll(() => bpm?.stop());

/** Runs the Node.js (not Bun) grpc-js peer; returns its JSON line. */
async function nodePeer(...args: string[]): Promise<any> {
  const proc = Bun.spawn(["node", join(REPO, "tests/peers/task-client.mjs"), addr, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  const line = out.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`node peer printed no JSON: ${out}\n${err}`);
  }
}

async function grpcurl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return grpcurlStdin(undefined, ...args);
}

/** grpcurl with the request on stdin (`-d @`): a 1 MiB argument is over the kernel's per-argument limit. */
async function grpcurlStdin(stdin: string | undefined, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn([toolPath("grpcurl"), "-plaintext", ...args], { stdout: "pipe", stderr: "pipe", stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin) });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, out, err };
}

describe("task-service gRPC with a Node.js grpc-js client", () => {
  test("all unary RPCs; UpdateTask leaves unset fields alone", async () => {
    const r = await nodePeer("unary");
    expect(r.fatal).toBeUndefined();
    expect(r.created).toMatchObject({ title: "node peer", description: "d", priority: "high", status: "todo", user_id: 77, project_id: 3 });
    expect(r.got).toEqual(r.created);
    expect(r.updated).toMatchObject({ title: "node peer", description: "d", priority: "high", status: "in_progress" });
    expect(r.deleted).toMatchObject({ success: true });
    expect(r.afterDelete.code).toBe(5); // NOT_FOUND
  });

  test("a 1 MiB description round-trips", async () => {
    const r = await nodePeer("big");
    expect(r.length).toBe(1024 * 1024);
  });

  test("bad input → INVALID_ARGUMENT naming the field; missing id → NOT_FOUND", async () => {
    const r = await nodePeer("invalid");
    expect(r.missingTitle).toMatchObject({ code: 3 });
    expect(r.missingTitle.details).toContain("title");
    expect(r.badPriority.details).toContain("priority");
    expect(r.badStatus.details).toContain("status");
    expect(r.noUser.details).toContain("user_id");
    expect(r.missing.code).toBe(5);
    expect(r.updateMissing.code).toBe(5);
    expect(r.negativeLimit).toMatchObject({ code: 3 });
    expect(r.negativeLimit.details).toContain("limit");
  });

  test("ListTasks streams 10,000 tasks in order, with limit/offset", async () => {
    const user = 424242;
    // seed through REST in batches so the test measures the stream, not the inserts
    const base = bpm.url("task-service");
    for (let i = 0; i < 10_000; i += 250) {
      await Promise.all(Array.from({ length: 250 }, (_, j) => fetch(`${base}/api/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ title: `bulk ${i + j}`, user_id: user }) })));
    }
    const r = await nodePeer("list", String(user));
    expect(r.count).toBe(10_000);
    expect(r.sorted).toBe(true);
    expect(r.page).toEqual(r.expectedPage);
  }, 120_000);

  test("ListTasks pages by page_token: the next token in trailing metadata, none after the last page", async () => {
    const user = 515151;
    const base = bpm.url("task-service");
    for (let i = 0; i < 45; i++) await fetch(`${base}/api/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ title: `p${i}`, user_id: user }) });
    const r = await nodePeer("pages", String(user), "7");
    expect(r.fatal).toBeUndefined();
    expect(r.all.length).toBe(45);
    expect(r.pages.map((p: any) => p.ids.length)).toEqual([7, 7, 7, 7, 7, 7, 3]);
    expect(r.pages.flatMap((p: any) => p.ids)).toEqual(r.all);
    expect(r.pages.slice(0, -1).every((p: any) => typeof p.token === "string" && p.token.length > 0)).toBe(true);
    expect(r.pages.at(-1).token).toBeNull();
    // an offset with a token skips rows after the token's position
    expect(r.withOffset).toEqual(r.all.slice(8, 10));
    expect(r.badToken).toMatchObject({ code: 3 });
    expect(r.badToken.details).toContain("page_token");
  });

  test("StreamTaskUpdates delivers live events for the user and ends cleanly on cancel", async () => {
    const r = await nodePeer("stream", "31337");
    expect(r.events.map((e: any) => e.type)).toEqual(["created", "updated", "deleted"]);
    expect(r.events[1].status).toBe("done");
    expect(r.ended?.code ?? 1).toBe(1); // CANCELLED (by the client) or nothing
    const h = (await (await fetch(`${bpm.url("task-service")}/health`)).json()) as any;
    expect(h.details.storage.details.subscribers).toBe(0);
  });
});

describe("task-service gRPC with grpcurl (Go, no proto files: reflection)", () => {
  test("list services via reflection", async () => {
    const r = await grpcurl(addr, "list");
    expect(r.code).toBe(0);
    expect(r.out.split("\n")).toEqual(expect.arrayContaining(["taskservice.TaskService", "grpc.health.v1.Health"]));
  });

  test("describe and call CreateTask / GetTask", async () => {
    const d = await grpcurl(addr, "describe", "taskservice.TaskService");
    expect(d.out).toContain("rpc StreamTaskUpdates");
    const c = await grpcurl("-d", JSON.stringify({ title: "from go", user_id: 12, priority: "low" }), addr, "taskservice.TaskService/CreateTask");
    expect(c.code).toBe(0);
    const created = JSON.parse(c.out);
    expect(created).toMatchObject({ title: "from go", priority: "low", status: "todo", user_id: 12 });
    const g = await grpcurl("-d", JSON.stringify({ id: created.id }), addr, "taskservice.TaskService/GetTask");
    expect(JSON.parse(g.out).title).toBe("from go");
  });

  test("a 1 MiB description and a server stream", async () => {
    const big = "z".repeat(1024 * 1024);
    const c = await grpcurlStdin(JSON.stringify({ title: "big go", user_id: 13, description: big }), "-max-msg-sz", String(8 * 1024 * 1024), "-d", "@", addr, "taskservice.TaskService/CreateTask");
    expect(c.code).toBe(0);
    expect(JSON.parse(c.out).description.length).toBe(1024 * 1024);
    const l = await grpcurl("-d", JSON.stringify({ user_id: 13 }), addr, "taskservice.TaskService/ListTasks");
    expect(l.code).toBe(0);
    expect(l.out).toContain('"title": "big go"');
  });

  test("grpc.health.v1 answers SERVING; bad input maps to InvalidArgument", async () => {
    const h = await grpcurl(addr, "grpc.health.v1.Health/Check");
    expect(JSON.parse(h.out)).toEqual({ status: "SERVING" });
    const bad = await grpcurl("-d", '{"title":""}', addr, "taskservice.TaskService/CreateTask");
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("InvalidArgument");
  });
});

describe("task-service gRPC with a Bun grpc-js client (how process-service calls it)", () => {
  // Bun's node:http2 client has stalled on bodies over the 64 KiB window when the peer raises
  // SETTINGS_INITIAL_WINDOW_SIZE (oven-sh/bun#30342, #40358): 1 MiB requests, several at once
  test("8 concurrent 1 MiB CreateTask calls complete and read back intact", async () => {
    const grpc = await import("@grpc/grpc-js");
    const { taskPackage } = await import("../../src/roles/task-service/grpc.ts");
    const Ctor = grpc.makeGenericClientConstructor(taskPackage.definition["taskservice.TaskService"] as never, "TaskService");
    const client = new Ctor(addr, grpc.credentials.createInsecure()) as unknown as Record<string, Function>;
    const call = (m: string, req: unknown) =>
      new Promise<any>((res, rej) => client[m]!.call(client, req, { deadline: Date.now() + 20_000 }, (e: Error | null, r: unknown) => (e ? rej(e) : res(r))));
    const big = "b".repeat(1024 * 1024);
    const created = await Promise.all(Array.from({ length: 8 }, (_, i) => call("CreateTask", { title: `bun big ${i}`, user_id: 21, description: big })));
    const read = await Promise.all(created.map((t) => call("GetTask", { id: t.id })));
    expect(read.map((t) => t.description.length)).toEqual(Array(8).fill(1024 * 1024));
    (client as unknown as { close(): void }).close();
  }, 60_000);
});
