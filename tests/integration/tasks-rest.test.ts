import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { json, postJson, startBpm, type BpmProcess } from "../support/bpm.ts";

/** task-service alone with auth off: every caller is the local operator (docs/security.md), as before credentials; tests/integration/authorization.test.ts covers auth on. */
const AUTH_OFF = { auth: { enabled: false } };

let bpm: BpmProcess;
let base: string;
beforeAll(async () => {
  bpm = await startBpm({ roles: ["task-service"], config: AUTH_OFF });
  base = bpm.url("task-service");
});
afterAll(() => bpm?.stop());

describe("task-service REST", () => {
  test("create, read, partial update, delete", async () => {
    const created = await json(postJson(`${base}/api/tasks`, { title: "Write report", description: "Q3", priority: "high", user_id: 10, project_id: 2 }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: "Write report", priority: "high", status: "todo", user_id: 10, project_id: 2 });
    expect(created.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    const id = created.body.id;

    const got = await json(fetch(`${base}/api/tasks/${id}`));
    expect(got.body).toEqual(created.body);

    const patched = await json(fetch(`${base}/api/tasks/${id}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ status: "in_progress" }) }));
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ title: "Write report", description: "Q3", priority: "high", status: "in_progress" });

    const deleted = await json(fetch(`${base}/api/tasks/${id}`, { method: "DELETE" }));
    expect(deleted.body).toMatchObject({ success: true });
    const gone = await json(fetch(`${base}/api/tasks/${id}`));
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ code: "NOT_FOUND" });
    expect(gone.body.correlation_id).toBe(gone.headers.get("x-correlation-id"));
  });

  test("list filters by user and status with limit/offset", async () => {
    const user = 5000 + Math.floor(Math.random() * 1000);
    for (let i = 0; i < 7; i++) await postJson(`${base}/api/tasks`, { title: `t${i}`, user_id: user, status: i % 2 ? "done" : "todo" });
    const all = await json(fetch(`${base}/api/tasks?user_id=${user}`));
    expect(all.body.total).toBe(7);
    const done = await json(fetch(`${base}/api/tasks?user_id=${user}&status=done`));
    expect(done.body.items.map((t: any) => t.status)).toEqual(["done", "done", "done"]);
    const page = await json(fetch(`${base}/api/tasks?user_id=${user}&limit=2&offset=2`));
    expect(page.body.items.map((t: any) => t.title)).toEqual(["t2", "t3"]);
    expect(page.body).toMatchObject({ total: 7, limit: 2, offset: 2 });
  });

  test("list pages by cursor: next_cursor until the last page, then null; total as count= asks", async () => {
    const user = 7000 + Math.floor(Math.random() * 1000);
    const ids: number[] = [];
    for (let i = 0; i < 23; i++) ids.push((await json(postJson(`${base}/api/tasks`, { title: `c${i}`, user_id: user, project_id: 40 + (i % 2) }))).body.id);
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { status: number; body: any } = await json(fetch(`${base}/api/tasks?user_id=${user}&limit=5${cursor ? `&cursor=${cursor}` : ""}`));
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ limit: 5, offset: 0, total: 23, total_relation: "eq" });
      seen.push(...r.body.items.map((t: any) => t.id));
      cursor = r.body.next_cursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(5);
    expect(seen).toEqual(ids);
    const project = await json(fetch(`${base}/api/tasks?user_id=${user}&project_id=41&count=exact`));
    expect(project.body.items.map((t: any) => t.id)).toEqual(ids.filter((_, i) => i % 2 === 1));
    expect(project.body).toMatchObject({ total: 11, total_relation: "eq", next_cursor: null });
    const none = await json(fetch(`${base}/api/tasks?user_id=${user}&count=none&limit=1`));
    expect(Object.keys(none.body).sort()).toEqual(["items", "limit", "next_cursor", "offset"]);
    // project_id 0 is a task's "no project" (proto3's unset), so as a filter it filters nothing, as in gRPC
    const anyProject = await json(fetch(`${base}/api/tasks?user_id=${user}&project_id=0&count=exact`));
    expect(anyProject.status).toBe(200);
    expect(anyProject.body).toMatchObject({ total: 23, total_relation: "eq" });
    for (const bad of ["cursor=abc", "cursor=x&offset=2", "count=maybe", "project_id=-1"]) {
      const r = await json(fetch(`${base}/api/tasks?user_id=${user}&${bad}`));
      expect(r.status).toBe(400);
      expect(r.body.code).toBe("VALIDATION_FAILED");
    }
  });

  test.each([
    [{ user_id: 1 }, "title"],
    [{ title: "x", user_id: 1, priority: "urgent" }, "priority"],
    [{ title: "x", user_id: 1, status: "paused" }, "status"],
    [{ title: "x", user_id: "12" }, "user_id"],
    [{ title: "x" }, "user_id"],
  ])("bad body %p → 400 naming %s", async (body, field) => {
    const r = await json(postJson(`${base}/api/tasks`, body));
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("VALIDATION_FAILED");
    expect(r.body.details.map((d: any) => d.field)).toContain(field);
  });

  test("malformed JSON → 400, oversized body → 413, bad query → 400, unknown id → 404", async () => {
    const bad = await json(fetch(`${base}/api/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"title": ' }));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/not valid JSON/);
    const big = await fetch(`${base}/api/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ title: "x", user_id: 1, description: "y".repeat(1024 * 1024 + 10) }) });
    expect(big.status).toBe(413);
    const negative = await json(fetch(`${base}/api/tasks?limit=-1`));
    expect(negative.status).toBe(400);
    expect(negative.body.details[0].field).toBe("limit");
    const nonNumeric = await json(fetch(`${base}/api/tasks/abc`));
    expect(nonNumeric.status).toBe(400);
    expect((await fetch(`${base}/api/tasks/987654`)).status).toBe(404);
  });

  test("Idempotency-Key makes a repeated create return the first task", async () => {
    const key = `k-${crypto.randomUUID()}`;
    const a = await json(postJson(`${base}/api/tasks`, { title: "once", user_id: 3 }, { "idempotency-key": key }));
    const b = await json(postJson(`${base}/api/tasks`, { title: "once", user_id: 3 }, { "idempotency-key": key }));
    expect(a.status).toBe(201);
    expect(b.status).toBe(200);
    expect(b.body.id).toBe(a.body.id);
  });

  test("X-Correlation-ID is kept when given and made when not", async () => {
    const given = await fetch(`${base}/api/tasks?limit=1`, { headers: { "x-correlation-id": "abc-123" } });
    expect(given.headers.get("x-correlation-id")).toBe("abc-123");
    const made = await fetch(`${base}/api/tasks?limit=1`);
    expect(made.headers.get("x-correlation-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("server-sent events stream created/updated/deleted for a user", async () => {
    const user = 9100 + Math.floor(Math.random() * 100);
    const ac = new AbortController();
    const res = await fetch(`${base}/api/tasks/stream?user_id=${user}`, { signal: ac.signal });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const events: string[] = [];
    const reading = (async () => {
      const dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        buf += dec.decode(value);
        for (const m of buf.matchAll(/event: (\w+)\n/g)) events.push(m[1]!);
        buf = buf.slice(buf.lastIndexOf("\n\n") + 2);
      }
    })();
    const t = await json(postJson(`${base}/api/tasks`, { title: "sse", user_id: user }));
    await postJson(`${base}/api/tasks`, { title: "other user", user_id: user + 1 });
    await fetch(`${base}/api/tasks/${t.body.id}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: '{"status":"done"}' });
    await fetch(`${base}/api/tasks/${t.body.id}`, { method: "DELETE" });
    for (let i = 0; i < 100 && events.length < 3; i++) await Bun.sleep(20);
    ac.abort();
    await reading;
    expect(events).toEqual(["created", "updated", "deleted"]);
    // the subscription is freed once the client goes away
    let subs = -1;
    for (let i = 0; i < 50; i++) {
      const h = await json(fetch(`${base}/health`));
      subs = h.body.details.storage.details.subscribers;
      if (subs === 0) break;
      await Bun.sleep(20);
    }
    expect(subs).toBe(0);
  });

  test("/health and /metrics", async () => {
    const h = await json(fetch(`${base}/health`));
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ status: "UP" });
    expect(typeof h.body.timestamp).toBe("number");
    const m = await fetch(`${base}/metrics`);
    expect(m.headers.get("content-type")).toContain("text/plain");
    const text = await m.text();
    expect(text).toContain("bpm_http_requests_total");
    expect(text).toContain("process_resident_memory_bytes");
  });
});
