import { describe, expect, test } from "bun:test";
import { status as GrpcStatus, Metadata } from "@grpc/grpc-js";
import { taskKey, type Effect } from "../../../src/domain/process/index.ts";
import { FakeClock } from "../../../src/platform/clock.ts";
import { createLogger, setLogLevel } from "../../../src/platform/logger.ts";
import { CallNotPermittedError } from "../../../src/resilience/errors.ts";
import type { OutboxRecord } from "../../../src/roles/process-service/model.ts";
import { OutboxDispatcher, type Deliver } from "../../../src/roles/process-service/outbox.ts";
import { outboxDelayMs } from "../../../src/roles/process-service/outbox-backoff.ts";
import { SqliteProcessStore } from "../../../src/roles/process-service/store-sqlite.ts";

setLogLevel("error"); // the retries below are expected; their warnings are noise here
const log = createLogger({ service: "test" });
const T0 = 1_700_000_000_000;

function instance(id: string) {
  const at = new Date(T0).toISOString();
  return {
    id, definition_key: "p", definition_version: 1, status: "running" as const, current_step: "a", current_assignee: 7, end_state: null,
    variables: {}, history: [], started_by: 7, created_at: at, updated_at: at, revision: 1,
  };
}

const create = (id: string, step: string): Effect => ({
  kind: "createTask", instanceId: id, stepId: step, visit: 1, taskKey: taskKey(id, step, 1), idempotencyKey: taskKey(id, step, 1),
  assigneeUserId: 7, title: "t", description: "", priority: "medium",
});
const done = (id: string, step: string): Effect => ({ kind: "completeTask", instanceId: id, stepId: step, visit: 1, taskKey: taskKey(id, step, 1), idempotencyKey: `${taskKey(id, step, 1)}:done`, userId: 7 });

const grpcError = (code: GrpcStatus, details: string) => Object.assign(new Error(details), { code, details, metadata: new Metadata() });

/** Lets the dispatcher's awaited store calls and deliveries run (no time passes). */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise<void>((r) => setImmediate(r));
}

function setup(deliver: Deliver, onDead?: (r: OutboxRecord, e: unknown) => Promise<void>) {
  const clock = new FakeClock(T0);
  const store = new SqliteProcessStore(":memory:", { synchronous: "NORMAL", busyTimeoutMs: 1000 });
  const dispatcher = new OutboxDispatcher({ store, deliver, onDead, log, clock, random: () => 0.5, concurrency: 4, pollMs: 60_000 });
  return { clock, store, dispatcher };
}

describe("outbox dispatcher", () => {
  test("delivers each instance's records in order, one at a time, several instances at once", async () => {
    const log: string[] = [];
    const gates = new Map<string, () => void>();
    const deliver: Deliver = (r) => new Promise((resolve) => {
      log.push(`start ${r.effect.idempotencyKey}`);
      gates.set(r.effect.idempotencyKey, () => resolve(r.effect.kind === "createTask" ? { taskRef: { taskKey: r.effect.taskKey, taskId: r.seq } } : {}));
    });
    const { store, dispatcher } = setup(deliver);
    await store.createInstance(instance("i1"), [create("i1", "a")], { now: T0 });
    await store.updateInstance({ ...instance("i1"), revision: 2 }, 1, [done("i1", "a"), create("i1", "b")], { now: T0 });
    await store.createInstance(instance("i2"), [create("i2", "a")], { now: T0 });
    dispatcher.start();
    await settle();
    // one record per instance in flight: i1's first create and i2's create, not i1's later ones
    expect(log).toEqual(["start i1:a:1", "start i2:a:1"]);
    gates.get("i1:a:1")!();
    await settle();
    expect(log.at(-1)).toBe("start i1:a:1:done");
    expect(await store.taskIdFor("i1:a:1")).toBe(1);
    gates.get("i1:a:1:done")!();
    await settle();
    expect(log.at(-1)).toBe("start i1:b:1");
    gates.get("i1:b:1")!();
    gates.get("i2:a:1")!();
    await settle();
    expect(await dispatcher.stats()).toMatchObject({ pending: 0, dead: 0, delivered: 4 });
    await dispatcher.stop();
  });

  test("a failure is retried after an exponential, jittered backoff, and an open breaker's wait is honoured", async () => {
    let calls = 0;
    const errors: unknown[] = [grpcError(GrpcStatus.UNAVAILABLE, "down"), grpcError(GrpcStatus.UNAVAILABLE, "down"), new CallNotPermittedError("taskService", "OPEN", 5_000)];
    const deliver: Deliver = async (r) => {
      calls++;
      const e = errors.shift();
      if (e) throw e;
      return { taskRef: { taskKey: r.effect.taskKey, taskId: 9 } };
    };
    const { clock, store, dispatcher } = setup(deliver);
    await store.createInstance(instance("i1"), [create("i1", "a")], { now: T0 });
    dispatcher.start();
    await settle();
    expect(calls).toBe(1);
    const first = outboxDelayMs(1, { initialMs: 200, multiplier: 2, maxMs: 10_000, maxRetryAfterMs: 60_000 }, () => 0.5);
    expect(first).toBe(150); // half fixed + half of a 0.5 draw of 200 ms
    clock.advance(first - 1);
    await settle();
    expect(calls).toBe(1);
    clock.advance(1);
    await settle();
    expect(calls).toBe(2);
    clock.advance(300); // 2nd delay: 400 ms * 0.75
    await settle();
    expect(calls).toBe(3);
    // the breaker said 5 s: the exponential 600 ms is not enough
    clock.advance(600);
    await settle();
    expect(calls).toBe(3);
    clock.advance(4_400);
    await settle();
    expect(calls).toBe(4);
    expect(await dispatcher.stats()).toMatchObject({ pending: 0, failedAttempts: 3 });
    await dispatcher.stop();
  });

  test("a refusal is given up on at once, reported, and does not hold back the instance's later records", async () => {
    const seen: string[] = [];
    const dead: string[] = [];
    const deliver: Deliver = async (r) => {
      seen.push(r.effect.idempotencyKey);
      if (r.effect.kind === "createTask" && r.effect.stepId === "a") throw grpcError(GrpcStatus.INVALID_ARGUMENT, "user_id must be a positive integer");
      return {};
    };
    const { store, dispatcher } = setup(deliver, async (r) => void dead.push(r.effect.idempotencyKey));
    await store.createInstance(instance("i1"), [create("i1", "a")], { now: T0 });
    await store.updateInstance({ ...instance("i1"), revision: 2 }, 1, [done("i1", "a")], { now: T0 });
    dispatcher.start();
    await settle();
    expect(seen).toEqual(["i1:a:1", "i1:a:1:done"]);
    expect(dead).toEqual(["i1:a:1"]);
    expect(await store.outboxState("i1:a:1")).toBe("dead");
    expect(await dispatcher.stats()).toMatchObject({ pending: 0, dead: 1 });
    await dispatcher.stop();
  });

  test("the backlog's size and age are reported while records wait", async () => {
    const deliver: Deliver = async () => {
      throw grpcError(GrpcStatus.UNAVAILABLE, "down");
    };
    const { clock, store, dispatcher } = setup(deliver);
    await store.createInstance(instance("i1"), [create("i1", "a")], { now: T0 });
    await store.createInstance(instance("i2"), [create("i2", "a")], { now: T0 + 500 });
    clock.advance(2_000);
    expect(await dispatcher.stats()).toMatchObject({ pending: 2, oldestCreatedAtMs: T0, oldestAgeMs: 2_000 });
  });

  test("a compare-and-set with a stale revision writes nothing, not even its effects", async () => {
    const { store } = setup(async () => ({}));
    await store.createInstance(instance("i1"), [create("i1", "a")], { now: T0 });
    expect(await store.updateInstance({ ...instance("i1"), revision: 2 }, 1, [done("i1", "a")], { now: T0 })).toBe(true);
    expect(await store.updateInstance({ ...instance("i1"), revision: 2, status: "cancelled" }, 1, [create("i1", "x")], { now: T0 })).toBe(false);
    expect((await store.getInstance("i1"))!.status).toBe("running");
    expect(await store.outboxState("i1:x:1")).toBeUndefined();
    expect((await store.outboxCounts()).pending).toBe(2);
  });
});
