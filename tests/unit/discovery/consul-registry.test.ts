import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConsulRegistry } from "../../../src/discovery/consul.ts";
import { SnapshotFile } from "../../../src/discovery/snapshot.ts";
import type { ServiceInstance } from "../../../src/discovery/types.ts";
import { FakeClock } from "../../../src/platform/clock.ts";

import { entry, recordingLogger, ScriptedConsul } from "./scripted-consul.ts";

const log = recordingLogger();
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(snapshot?: SnapshotFile) {
  const api = new ScriptedConsul();
  const clock = new FakeClock();
  const registry = new ConsulRegistry({
    api, log, clock, random: () => 0, waitMs: 30_000, minQueryIntervalMs: 0, backoff: { initialMs: 1_000, maxMs: 10_000 }, ...(snapshot ? { snapshot } : {}),
  });
  return { api, clock, registry };
}

describe("consul registry", () => {
  test("watch() hands over the current set at once and every change after", async () => {
    const { api, registry } = setup();
    const seen: string[][] = [];
    registry.watch("task-service", (list) => seen.push(list.map((i) => i.id)));
    expect(seen).toEqual([[]]);
    await api.untilWaiting();
    api.answerHealth([entry("a", 1)], 5n);
    await api.untilWaiting();
    api.answerHealth([entry("a", 1), entry("b", 2)], 6n);
    await api.untilWaiting();
    expect(seen).toEqual([[], ["a"], ["a", "b"]]);
    expect(registry.instances("task-service").map((i) => i.id)).toEqual(["a", "b"]);
    await registry.close();
  });

  test("one blocking loop per service, however many callers ask", async () => {
    const { api, registry } = setup();
    registry.instances("task-service");
    registry.watch("task-service", () => {});
    registry.instances("task-service");
    registry.instances("form-service");
    await api.settle();
    expect(api.calls.map((c) => (c.kind === "health" ? c.query.service : c.kind)).sort()).toEqual(["form-service", "task-service"]);
    await registry.close();
  });

  test("health: UP while Consul answers; degraded but UP while it does not and a set is known; never DOWN", async () => {
    const { api, registry, clock } = setup();
    registry.instances("task-service");
    await api.untilWaiting();
    api.answerHealth([entry("a", 1)], 5n);
    await api.untilWaiting();
    expect(registry.health()).toEqual({ status: "UP", detail: "consul scripted:8500" });
    clock.advance(12_000);
    api.fail();
    await api.settle();
    clock.advance(3_000);
    const h = registry.health();
    expect(h.status).toBe("UP");
    expect(h.detail).toStartWith("degraded: consul scripted:8500 failing for 3 s (connect ECONNREFUSED)");
    expect(h.detail).toContain("task-service: 1 from consul 15 s ago");
    expect(registry.instances("task-service").map((i) => i.id)).toEqual(["a"]);
    await registry.close();
  });

  test("health is UNKNOWN (still not DOWN) when Consul is away and nothing was ever known", async () => {
    const { api, registry } = setup();
    registry.instances("task-service");
    await api.untilWaiting();
    api.fail();
    await api.settle();
    const h = registry.health();
    expect(h.status).toBe("UNKNOWN");
    expect(h.detail).toContain("task-service: none known");
    await registry.close();
  });

  test("a restart during a Consul outage finds its peers in the snapshot the last run saved", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bpm-reg-"));
    dirs.push(dir);
    const path = join(dir, "discovery-snapshot.json");
    const run1 = setup(new SnapshotFile(path, { log }));
    run1.registry.instances("task-service");
    await run1.api.untilWaiting();
    run1.api.answerHealth([entry("a", 8082, { grpc: 50051 })], 5n);
    await run1.api.untilWaiting();
    await run1.registry.close();

    const run2 = setup(new SnapshotFile(path, { log }));
    // the snapshot's services are watched from the start and served before any answer
    expect(run2.registry.instances("task-service").map((i: ServiceInstance) => [i.id, i.grpcPort])).toEqual([["a", 50051]]);
    await run2.api.untilWaiting();
    run2.api.fail();
    await run2.api.settle();
    expect(run2.registry.instances("task-service").map((i) => i.id)).toEqual(["a"]);
    const h = run2.registry.health();
    expect(h.status).toBe("UP");
    expect(h.detail).toContain("task-service: 1 from snapshot");
    await run2.registry.close();
  });

  test("ready() resolves once every service had a first answer, good or bad", async () => {
    const { api, registry } = setup();
    let done = false;
    const ready = registry.ready(["task-service", "form-service"], 60_000).then(() => (done = true));
    await api.untilWaiting(2);
    api.answerHealth([], 1n);
    await api.settle();
    expect(done).toBe(false);
    api.fail();
    await ready;
    expect(done).toBe(true);
    await registry.close();
  });
});
