// A Node.js (not Bun) @grpc/grpc-js peer for task-service. Prints one JSON line.
//   node task-client.mjs HOST:PORT unary | list USER_ID EXPECTED | pages USER_ID LIMIT | stream USER_ID | invalid | big
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const def = protoLoader.loadSync(join(here, "../../protos/task.proto"), { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
const { TaskService } = grpc.loadPackageDefinition(def).taskservice;
const [addr, cmd, ...args] = process.argv.slice(2);
const client = new TaskService(addr, grpc.credentials.createInsecure());
const call = (m, req) => new Promise((res, rej) => client[m](req, { deadline: Date.now() + 20000 }, (e, r) => (e ? rej(e) : res(r))));
const out = (x) => { process.stdout.write(JSON.stringify(x) + "\n"); client.close(); };
const errOf = (e) => ({ code: e.code, details: e.details });

async function main() {
  if (cmd === "unary") {
    const created = await call("CreateTask", { title: "node peer", description: "d", priority: "high", user_id: 77, project_id: 3 });
    const got = await call("GetTask", { id: created.id });
    const updated = await call("UpdateTask", { id: created.id, status: "in_progress" });
    const deleted = await call("DeleteTask", { id: created.id });
    let afterDelete;
    try { await call("GetTask", { id: created.id }); } catch (e) { afterDelete = errOf(e); }
    return out({ created, got, updated, deleted, afterDelete });
  }
  if (cmd === "big") {
    const description = "x".repeat(1024 * 1024);
    const created = await call("CreateTask", { title: "big", description, user_id: 5 });
    const got = await call("GetTask", { id: created.id });
    return out({ id: created.id, length: got.description.length });
  }
  if (cmd === "invalid") {
    const results = {};
    for (const [name, req] of Object.entries({
      missingTitle: { user_id: 1 },
      badPriority: { title: "t", user_id: 1, priority: "urgent" },
      badStatus: { title: "t", user_id: 1, status: "nope" },
      noUser: { title: "t" },
    })) {
      try { await call("CreateTask", req); results[name] = "accepted"; } catch (e) { results[name] = errOf(e); }
    }
    try { await call("GetTask", { id: 99999999 }); } catch (e) { results.missing = errOf(e); }
    try { await call("UpdateTask", { id: 99999999, title: "x" }); } catch (e) { results.updateMissing = errOf(e); }
    const list = await new Promise((res) => {
      const s = client.ListTasks({ limit: -1 });
      s.on("data", () => {}); s.on("error", (e) => res(errOf(e))); s.on("end", () => res("accepted"));
    });
    results.negativeLimit = list;
    return out(results);
  }
  if (cmd === "list") {
    const [userId] = args;
    const started = Date.now();
    const ids = await new Promise((res, rej) => {
      const got = [];
      const s = client.ListTasks({ user_id: Number(userId) });
      s.on("data", (t) => got.push(t.id));
      s.on("error", rej);
      s.on("end", () => res(got));
    });
    const sorted = ids.every((id, i) => i === 0 || ids[i - 1] < id);
    const page = await new Promise((res, rej) => {
      const got = [];
      const s = client.ListTasks({ user_id: Number(userId), limit: 5, offset: 10 });
      s.on("data", (t) => got.push(t.id)); s.on("error", rej); s.on("end", () => res(got));
    });
    return out({ count: ids.length, sorted, ms: Date.now() - started, page, expectedPage: ids.slice(10, 15) });
  }
  if (cmd === "pages") {
    // one ListTasks call per page; the next page_token comes in the trailing metadata
    const [userId, limit] = args;
    const listPage = (req) => new Promise((res, rej) => {
      const ids = [];
      const s = client.ListTasks(req);
      s.on("data", (t) => ids.push(t.id));
      s.on("error", rej);
      s.on("status", (st) => { if (st.code === 0) res({ ids, token: st.metadata.get("next-page-token")[0] ?? null }); });
    });
    const all = (await listPage({ user_id: Number(userId) })).ids;
    const pages = [];
    let token = "";
    for (let i = 0; i < 1000; i++) {
      const p = await listPage({ user_id: Number(userId), limit: Number(limit), page_token: token });
      pages.push(p);
      if (!p.token) break;
      token = p.token;
    }
    let withOffset, badToken;
    try { withOffset = (await listPage({ user_id: Number(userId), limit: 2, offset: 1, page_token: pages[0].token })).ids; } catch (e) { withOffset = errOf(e); }
    try { await listPage({ user_id: Number(userId), limit: 2, page_token: "not a token" }); } catch (e) { badToken = errOf(e); }
    return out({ all, pages, withOffset, badToken });
  }
  if (cmd === "stream") {
    const [userId] = args;
    const events = [];
    const s = client.StreamTaskUpdates({ user_id: Number(userId) });
    s.on("data", (e) => events.push({ type: e.event_type, id: e.task.id, status: e.task.status }));
    let ended = null;
    s.on("error", (e) => { ended = errOf(e); });
    await new Promise((r) => setTimeout(r, 300));
    const t = await call("CreateTask", { title: "watched", user_id: Number(userId) });
    await call("CreateTask", { title: "someone else", user_id: Number(userId) + 1 });
    await call("UpdateTask", { id: t.id, status: "done" });
    await call("DeleteTask", { id: t.id });
    const until = Date.now() + 5000;
    while (events.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    s.cancel();
    await new Promise((r) => setTimeout(r, 200));
    return out({ events, ended });
  }
  throw new Error(`unknown command ${cmd}`);
}
main().catch((e) => { process.stdout.write(JSON.stringify({ fatal: String(e?.stack ?? e), code: e?.code }) + "\n"); process.exit(1); });
