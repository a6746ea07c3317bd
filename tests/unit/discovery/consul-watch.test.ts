import { describe, expect, test } from "bun:test";
import { Backoff } from "../../../src/discovery/consul-backoff.ts";
import type { HealthQuery } from "../../../src/discovery/consul-client.ts";
import { ConsulCallError } from "../../../src/discovery/consul-client.ts";
import { ServiceWatch } from "../../../src/discovery/consul-watch.ts";
import type { ServiceInstance } from "../../../src/discovery/types.ts";
import { FakeClock } from "../../../src/platform/clock.ts";
import { entry, ScriptedConsul } from "./scripted-consul.ts";

function setup(opts: { minIntervalMs?: number; random?: () => number; seed?: ServiceInstance[] } = {}) {
  const api = new ScriptedConsul();
  const clock = new FakeClock();
  const changes: string[][] = [];
  let failures = 0;
  const watch = new ServiceWatch({
    service: "task-service",
    api,
    clock,
    backoff: new Backoff({ initialMs: 1_000, maxMs: 8_000, random: opts.random ?? (() => 0) }),
    waitMs: 30_000,
    minIntervalMs: opts.minIntervalMs ?? 0,
    ...(opts.seed ? { seed: { instances: opts.seed, savedAt: clock.now() - 60_000 } } : {}),
    onChange: (list) => changes.push(list.map((i) => i.id)),
    onSuccess: () => {},
    onFailure: () => failures++,
  });
  watch.start();
  const nextQuery = async () => ((await api.untilWaiting()) as { query: HealthQuery }).query;
  return { api, clock, watch, changes, nextQuery, failures: () => failures };
}

describe("service watch: blocking queries", () => {
  test("the first query does not block; each next one blocks on the index just returned", async () => {
    const { api, nextQuery, changes } = setup();
    expect((await nextQuery()).index).toBeUndefined();
    api.answerHealth([entry("a", 1)], 10n);
    const q2 = await nextQuery();
    expect(q2.index).toBe(10n);
    expect(q2.waitMs).toBe(30_000);
    api.answerHealth([entry("a", 1), entry("b", 2)], 11n);
    expect((await nextQuery()).index).toBe(11n);
    expect(changes).toEqual([["a"], ["a", "b"]]);
  });

  test("an index that goes backwards is adopted, and the answer it came with is served", async () => {
    const { api, nextQuery, watch } = setup();
    await nextQuery();
    api.answerHealth([entry("a", 1)], 500n);
    await nextQuery();
    api.answerHealth([entry("b", 2)], 3n);
    expect((await nextQuery()).index).toBe(3n);
    expect(watch.instances.map((i) => i.id)).toEqual(["b"]);
  });

  test("after the first call, index 0 is never sent (Consul answering 0 makes it 1)", async () => {
    const { api, nextQuery } = setup();
    await nextQuery();
    api.answerHealth([], 0n);
    expect((await nextQuery()).index).toBe(1n);
    api.answerHealth([], 0n);
    expect((await nextQuery()).index).toBe(1n);
    expect(api.calls.filter((c) => c.kind === "health" && c.query.index === 0n)).toHaveLength(0);
  });

  test("an unchanged answer (index moved for other reasons) does not notify listeners", async () => {
    const { api, nextQuery, changes } = setup();
    await nextQuery();
    api.answerHealth([entry("a", 1)], 10n);
    await nextQuery();
    api.answerHealth([entry("a", 1)], 12n);
    await nextQuery();
    expect(changes).toEqual([["a"]]);
  });

  test("queries are rate-limited: a burst of changes is read at most once per minIntervalMs", async () => {
    const { api, nextQuery, clock } = setup({ minIntervalMs: 100 });
    await nextQuery();
    api.answerHealth([entry("a", 1)], 10n);
    await api.settle();
    expect(api.waiting).toBe(0);
    clock.advance(99);
    await api.settle();
    expect(api.waiting).toBe(0);
    clock.advance(1);
    expect((await nextQuery()).index).toBe(10n);
  });

  test("a query that blocked longer than minIntervalMs is followed at once", async () => {
    const { api, nextQuery, clock } = setup({ minIntervalMs: 100 });
    await nextQuery();
    api.answerHealth([], 10n);
    clock.advance(100);
    await nextQuery();
    clock.advance(5_000); // the blocking call waited 5 s
    api.answerHealth([entry("a", 1)], 11n);
    expect((await nextQuery()).index).toBe(11n);
  });
});

describe("service watch: failures keep the last known set", () => {
  test("an unreachable agent: set kept, retry only after the jittered backoff, then a fresh (non-blocking) read", async () => {
    const { api, nextQuery, clock, watch, changes, failures } = setup({ random: () => 0.5 });
    await nextQuery();
    api.answerHealth([entry("a", 1)], 10n);
    await nextQuery();
    api.fail();
    await api.settle();
    expect(watch.instances.map((i) => i.id)).toEqual(["a"]);
    expect(watch.isFailing).toBe(true);
    expect(failures()).toBe(1);
    // backoff 1: step 1000 ms, equal jitter with random 0.5 → 750 ms
    clock.advance(749);
    await api.settle();
    expect(api.waiting).toBe(0);
    clock.advance(1);
    // the agent may have restarted with a lower index: read afresh rather than block on ours
    expect((await nextQuery()).index).toBeUndefined();
    api.fail();
    await api.settle();
    clock.advance(1_499); // step 2000 → 1500
    await api.settle();
    expect(api.waiting).toBe(0);
    clock.advance(1);
    await nextQuery();
    api.answerHealth([entry("a", 1)], 3n);
    await nextQuery();
    expect(watch.isFailing).toBe(false);
    expect(changes).toEqual([["a"]]);
  });

  test("500s, garbage bodies and a missing X-Consul-Index never empty the set", async () => {
    const { api, nextQuery, clock, watch, failures } = setup({ random: () => 0 });
    await nextQuery();
    api.answerHealth([entry("a", 1), entry("b", 2)], 10n);
    const bad = [
      () => api.fail(new ConsulCallError("consul answered 500: rpc error", 500)),
      () => api.fail(new ConsulCallError("BAD_JSON: JSON Parse error", undefined, "BAD_JSON")),
      () => api.answerHealth({ oops: true }, 11n),
      () => api.answerHealth([{ Service: null }], 11n),
      () => api.answerHealth([entry("a", 1)], undefined),
    ];
    for (const corrupt of bad) {
      await nextQuery();
      corrupt();
      await api.settle();
      expect(watch.instances.map((i) => i.id)).toEqual(["a", "b"]);
      clock.advance(10_000);
    }
    expect(failures()).toBe(bad.length);
  });

  test("backoff grows while failures continue and starts over after a success", async () => {
    const { api, nextQuery, clock } = setup({ random: () => 0 });
    const gaps: number[] = [];
    for (let i = 0; i < 5; i++) {
      await nextQuery();
      const t = clock.now();
      api.fail();
      await api.settle();
      while (api.waiting === 0) {
        clock.advance(50);
        await api.settle();
      }
      gaps.push(clock.now() - t);
    }
    expect(gaps).toEqual([500, 1000, 2000, 4000, 4000]);
    api.answerHealth([], 5n);
    await nextQuery();
    api.fail();
    await api.settle();
    clock.advance(500);
    expect((await nextQuery()).index).toBeUndefined();
  });

  test("an empty answer from a healthy Consul is trusted: scale to zero is real", async () => {
    const { api, nextQuery, watch, changes } = setup();
    await nextQuery();
    api.answerHealth([entry("a", 1)], 10n);
    await nextQuery();
    api.answerHealth([], 11n);
    await nextQuery();
    expect(watch.instances).toEqual([]);
    expect(changes).toEqual([["a"], []]);
  });

  test("a snapshot seed is served until Consul answers, then replaced", async () => {
    const seed = [{ id: "old", service: "task-service", address: "127.0.0.1", port: 9, weight: 100, tags: [], meta: {} }];
    const { api, nextQuery, watch, changes, clock } = setup({ seed });
    expect(watch.source).toBe("snapshot");
    expect(watch.instances.map((i) => i.id)).toEqual(["old"]);
    await nextQuery();
    api.fail();
    await api.settle();
    expect(watch.instances.map((i) => i.id)).toEqual(["old"]);
    expect(watch.source).toBe("snapshot");
    expect(changes).toEqual([]);
    clock.advance(1_000);
    await nextQuery();
    api.answerHealth([entry("a", 1)], 4n);
    await nextQuery();
    expect(watch.source).toBe("consul");
    expect(changes).toEqual([["a"]]);
  });

  test("Consul's first answer is news even when it equals what was known (so it reaches the snapshot)", async () => {
    const { api, nextQuery, changes } = setup();
    await nextQuery();
    api.answerHealth([], 4n);
    await nextQuery();
    api.answerHealth([], 5n);
    await nextQuery();
    expect(changes).toEqual([[]]);
  });

  test("close() aborts the blocking call and stops the loop", async () => {
    const { api, nextQuery, watch, clock } = setup();
    await nextQuery();
    watch.close();
    await api.settle();
    expect(api.waiting).toBe(0);
    clock.advance(60_000);
    await api.settle();
    expect(api.calls).toHaveLength(1);
  });
});
