// One behaviour, two engines: the ProcessStore guarantees (CAS, outbox order, claims) on SQLite and on a real PostgreSQL.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { taskKey, type Effect, type ProcessInstance } from "../../src/domain/process/index.ts";
import { PostgresProcessStore } from "../../src/roles/process-service/store-postgres.ts";
import { SqliteProcessStore } from "../../src/roles/process-service/store-sqlite.ts";
import type { ProcessStore } from "../../src/roles/process-service/store.ts";
import { bothEngines } from "./storage/databases.ts";

const backends = bothEngines<ProcessStore>(
  "processes",
  (dir) => new SqliteProcessStore(join(dir, "process-service.db"), { synchronous: "NORMAL", busyTimeoutMs: 5_000 }),
  (url, log) => PostgresProcessStore.open(url, log, { claimMs: 1_000 }),
);

const T0 = 1_772_000_000_000;
const NOW = new Date(T0).toISOString();
const definition = (name = "Leave") => ({
  key: "leave", name, end_states: [],
  steps: [{ id: "a", name: "A", form_key: "f", assignee: "7", transitions: [], priority: "medium" as const }],
});
function instance(id: string, over: Partial<ProcessInstance> = {}): ProcessInstance {
  return {
    id, definition_key: "leave", definition_version: 1, status: "running", current_step: "a", current_assignee: 7, end_state: null,
    variables: { n: 1, nested: { list: [1, "x", null] } }, history: [{ step_id: "", action: "started", user_id: 7, at: NOW }],
    started_by: 7, created_at: NOW, updated_at: NOW, revision: 1, ...over,
  };
}
const create = (id: string, step = "a"): Effect => ({
  kind: "createTask", instanceId: id, stepId: step, visit: 1, taskKey: taskKey(id, step, 1), idempotencyKey: taskKey(id, step, 1),
  assigneeUserId: 7, title: "t", description: "d", priority: "medium",
});
const done = (id: string, step = "a"): Effect => ({ kind: "completeTask", instanceId: id, stepId: step, visit: 1, taskKey: taskKey(id, step, 1), idempotencyKey: `${taskKey(id, step, 1)}:done`, userId: 7 });
const keysOf = (records: { effect: Effect }[]) => records.map((r) => r.effect.idempotencyKey);

for (const [engine, backend] of backends) {
  describe(`ProcessStore on ${engine}`, () => {
    test("definitions are versioned by content; two replicas deploying at once get distinct versions", async () => {
      const openStore = await backend();
      const [a, b] = [await openStore(), await openStore()];
      expect(await a.deploy(definition(), NOW)).toMatchObject({ created: true, definition: { version: 1, created_at: NOW } });
      expect(await b.deploy(definition(), NOW)).toMatchObject({ created: false, definition: { version: 1 } });
      const raced = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).deploy(definition(`v${i}`), NOW)));
      expect(raced.map((r) => r.definition.version).sort()).toEqual([2, 3, 4, 5, 6, 7]);
      expect((await a.getDefinition("leave", 1))!.name).toBe("Leave");
      expect((await a.listDefinitions({ limit: 10, offset: 0 })).map((d) => d.version)).toEqual([7]);
      expect(await a.countDefinitions({ key: "leave" })).toBe(7);
    });

    test("an instance and its effects are written together; a used idempotency key returns the first instance", async () => {
      const store = await (await backend())();
      const first = await store.createInstance(instance("i1"), [create("i1")], { idempotencyKey: "start-1", now: T0 });
      expect(first.created).toBe(true);
      const again = await store.createInstance(instance("i2"), [create("i2")], { idempotencyKey: "start-1", now: T0 });
      expect(again).toEqual({ instance: instance("i1"), created: false });
      expect(await store.getInstance("i2")).toBeUndefined();
      expect(await store.outboxState("i2:a:1")).toBeUndefined();
      expect(await store.getInstance("i1")).toEqual(instance("i1"));
      expect((await store.outboxCounts()).pending).toBe(1);
    });

    test("compare-and-set: of two writers on one revision exactly one wins, and only its effects are queued", async () => {
      const openStore = await backend();
      const [a, b] = [await openStore(), await openStore()];
      await a.createInstance(instance("i1"), [create("i1")], { now: T0 });
      const wins = await Promise.all([
        a.updateInstance(instance("i1", { revision: 2, current_step: "b" }), 1, [done("i1"), create("i1", "b")], { now: T0 }),
        b.updateInstance(instance("i1", { revision: 2, status: "cancelled", current_step: null }), 1, [{ ...done("i1"), idempotencyKey: "i1:a:1:other" }], { now: T0 }),
      ]);
      expect(wins.filter(Boolean)).toHaveLength(1);
      const after = (await a.getInstance("i1"))!;
      expect(after.revision).toBe(2);
      expect((await a.outboxCounts()).pending).toBe(wins[0] ? 3 : 2);
      expect(await a.outboxState(wins[0] ? "i1:a:1:other" : "i1:b:1")).toBeUndefined();
    });

    test("the outbox hands out each instance's oldest pending record only, skips busy instances, and waits for retries", async () => {
      const store = await (await backend())();
      await store.createInstance(instance("i1"), [create("i1")], { now: T0 });
      await store.updateInstance(instance("i1", { revision: 2 }), 1, [done("i1"), create("i1", "b")], { now: T0 + 1 });
      await store.createInstance(instance("i2"), [create("i2")], { now: T0 + 2 });
      const due = await store.dueOutbox(T0 + 10, 10, new Set());
      expect(keysOf(due)).toEqual(["i1:a:1", "i2:a:1"]);
      expect(await store.nextOutboxDueAt()).toBeGreaterThanOrEqual(T0);

      await store.markDelivered(due[0]!.seq, T0 + 20, { taskKey: "i1:a:1", taskId: 41 });
      await store.markRetry(due[1]!.seq, 1, T0 + 500, "task-service is down");
      expect(await store.taskIdFor("i1:a:1")).toBe(41);
      expect(await store.nextOutboxDueAt()).toBe(T0 + 1); // i1's next record, written at T0 + 1
      expect(keysOf(await store.dueOutbox(T0 + 30, 10, new Set(["i1"])))).toEqual([]);
      const next = await store.dueOutbox(T0 + 30, 10, new Set());
      expect(keysOf(next)).toEqual(["i1:a:1:done"]);
      const retried = await store.dueOutbox(T0 + 500, 10, new Set(["i1"]));
      expect(retried).toEqual([expect.objectContaining({ instanceId: "i2", attempts: 1, lastError: "task-service is down" })]);

      // a dead record no longer holds back the ones after it
      await store.markDead(next[0]!.seq, T0 + 600, "refused");
      expect(await store.outboxState("i1:a:1:done")).toBe("dead");
      expect(keysOf(await store.dueOutbox(T0 + 2_000, 10, new Set(["i2"])))).toEqual(["i1:b:1"]);
      expect(await store.outboxCounts()).toEqual({ pending: 2, dead: 1, oldestCreatedAtMs: T0 + 1 });
      expect(await store.pruneOutbox(T0 + 21)).toBe(1);
    });

    test("what was written is there after a restart, pending records included", async () => {
      const openStore = await backend();
      const first = await openStore();
      await first.createInstance(instance("i1"), [create("i1")], { now: T0 });
      await first.close();
      const again = await openStore();
      expect(await again.getInstance("i1")).toEqual(instance("i1"));
      expect(keysOf(await again.dueOutbox(T0 + 5_000, 10, new Set()))).toEqual(["i1:a:1"]);
    });
  });
}

describe("ProcessStore on PostgreSQL, several replicas", () => {
  test("a record being delivered by one replica is not handed to another until its claim runs out", async () => {
    const openStore = await backends[1]![1]();
    const [a, b] = [await openStore(), await openStore()];
    for (let i = 0; i < 20; i++) await a.createInstance(instance(`i${i}`), [create(`i${i}`)], { now: T0 });
    const [fromA, fromB] = await Promise.all([a.dueOutbox(T0 + 10, 15, new Set()), b.dueOutbox(T0 + 10, 15, new Set())]);
    const claimed = [...keysOf(fromA), ...keysOf(fromB)];
    expect(claimed).toHaveLength(20);
    expect(new Set(claimed).size).toBe(20);
    // claims last 1 s here: an unfinished one is handed out again after that
    expect(await b.dueOutbox(T0 + 500, 50, new Set())).toEqual([]);
    expect(await b.dueOutbox(T0 + 1_010, 50, new Set())).toHaveLength(20);
  });
});
