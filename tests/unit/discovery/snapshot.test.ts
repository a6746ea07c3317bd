import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SnapshotFile } from "../../../src/discovery/snapshot.ts";
import type { ServiceInstance } from "../../../src/discovery/types.ts";
import { FakeClock } from "../../../src/platform/clock.ts";
import { recordingLogger } from "./scripted-consul.ts";

const log = recordingLogger();
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "bpm-snap-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const inst = (id: string, port: number): ServiceInstance => ({
  id, service: "task-service", address: "127.0.0.1", port, grpcPort: port + 1, weight: 100, tags: ["v1"], meta: { grpc_port: String(port + 1) },
});

describe("discovery snapshot on disk", () => {
  test("what one run saved, the next run loads (service, instances and when Consul said so)", () => {
    const dir = tempDir();
    const path = join(dir, "data", "discovery-snapshot.json");
    const clock = new FakeClock(1_000_000);
    const first = new SnapshotFile(path, { log, clock, debounceMs: 250 });
    first.update("task-service", [inst("a", 8082), inst("b", 8083)]);
    first.update("form-service", []);
    first.flush();
    const second = new SnapshotFile(path, { log }).load();
    expect([...second.keys()].sort()).toEqual(["form-service", "task-service"]);
    expect(second.get("task-service")).toEqual({ savedAt: 1_000_000, instances: [inst("a", 8082), inst("b", 8083)] });
    expect(second.get("form-service")!.instances).toEqual([]);
  });

  test("a burst of changes is written once, after the debounce", () => {
    const dir = tempDir();
    const path = join(dir, "snap.json");
    const clock = new FakeClock();
    const snap = new SnapshotFile(path, { log, clock, debounceMs: 250 });
    snap.update("task-service", [inst("a", 1)]);
    snap.update("task-service", [inst("a", 1), inst("b", 2)]);
    expect(existsSync(path)).toBe(false);
    clock.advance(250);
    const saved = JSON.parse(readFileSync(path, "utf8"));
    expect(saved.services["task-service"].instances.map((i: ServiceInstance) => i.id)).toEqual(["a", "b"]);
  });

  test("writes replace the file by rename: no temp file is left behind", () => {
    const dir = tempDir();
    const path = join(dir, "snap.json");
    const snap = new SnapshotFile(path, { log, clock: new FakeClock() });
    for (let i = 0; i < 3; i++) {
      snap.update("task-service", [inst("a", 1 + i)]);
      snap.flush();
    }
    expect(readdirSync(dir)).toEqual(["snap.json"]);
  });

  test("a missing, garbage or wrong-shape file loads as nothing instead of failing the start", () => {
    const dir = tempDir();
    expect(new SnapshotFile(join(dir, "none.json"), { log }).load().size).toBe(0);
    for (const text of ["{not json", "[]", JSON.stringify({ version: 2, services: {} }), JSON.stringify({ version: 1, services: { s: { saved_at: 1, instances: [{ id: "x" }] } } })]) {
      const path = join(dir, "bad.json");
      writeFileSync(path, text);
      expect(new SnapshotFile(path, { log }).load().size).toBe(0);
    }
  });

  test("an unwritable location costs only the snapshot: update() never throws", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "file"), "x");
    const snap = new SnapshotFile(join(dir, "file", "sub", "snap.json"), { log, clock: new FakeClock() });
    snap.update("task-service", [inst("a", 1)]);
    expect(() => snap.flush()).not.toThrow();
  });
});
