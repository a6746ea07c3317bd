import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../../src/platform/clock.ts";
import { ClusterFixedWindow, type WindowCounterStore, type WindowDelta, type WindowTotal } from "../../../src/resilience/cluster-window.ts";

/** The store's rule, in memory (storage/postgres-rate-limits.ts holds it in one SQL statement). */
class MemoryStore implements WindowCounterStore {
  readonly rows = new Map<string, { key: string; start: number; count: number; seq: number }>();
  private seq = 0;
  failing = false;
  async sync(name: string, windowMs: number, entries: readonly WindowDelta[], cursor: string): Promise<{ totals: WindowTotal[]; cursor: string }> {
    if (this.failing) throw new Error("database unreachable");
    const sinceSeq = Number(cursor || "0");
    const before = [...this.rows.entries()].filter(([id, r]) => id.startsWith(`${name}|`) && r.seq > sinceSeq).map(([, r]) => r);
    const written = entries.map((e) => {
      const id = `${name}|${e.key}`;
      const row = this.rows.get(id);
      const seq = ++this.seq;
      const next = row === undefined || row.start + windowMs <= e.start ? { key: e.key, start: e.start, count: e.delta, seq } : { key: e.key, start: row.start, count: row.count + e.delta, seq };
      this.rows.set(id, next);
      return next;
    });
    const mine = new Set(entries.map((e) => e.key));
    const all = [...written, ...before.filter((r) => !mine.has(r.key))];
    return { totals: all.map(({ key, start, count }) => ({ key, start, count })), cursor: String(this.seq) };
  }
}

function replicas(n: number) {
  const clock = new FakeClock();
  const store = new MemoryStore();
  const windows = Array.from({ length: n }, () => new ClusterFixedWindow({ name: "gateway", limit: 100, windowMs: 60_000, store, clock }));
  return { clock, store, windows, syncAll: () => Promise.all(windows.map((w) => w.sync())) };
}

describe("a fixed window counted across replicas", () => {
  test("synced after every request, two replicas refuse exactly the 101st", async () => {
    const { windows, syncAll } = replicas(2);
    let first429 = 0;
    for (let i = 1; i <= 120 && first429 === 0; i++) {
      if (!windows[i % 2]!.check("u:1").allowed) first429 = i;
      await syncAll();
    }
    expect(first429).toBe(101);
  });

  test("unsynced, the overshoot is what the other replica admitted since its last sync", async () => {
    const { windows, syncAll } = replicas(2);
    for (let i = 0; i < 90; i++) windows[i % 2]!.check("k");
    // the second round lets the replica that synced first read the other's count
    await syncAll();
    await syncAll();
    // both know 90 are used: each admits 10 more before the next sync
    let admitted = 0;
    for (let i = 0; i < 40; i++) if (windows[i % 2]!.check("k").allowed) admitted++;
    expect(admitted).toBe(20);
    await syncAll();
    expect(windows[0]!.check("k")).toMatchObject({ allowed: false });
    expect(windows[1]!.check("k")).toMatchObject({ allowed: false });
  });

  test("the window is the first replica's, and ends for all at the same time", async () => {
    const { clock, windows, syncAll } = replicas(2);
    windows[0]!.check("k");
    await syncAll();
    clock.advance(30_000);
    windows[1]!.check("k");
    await syncAll();
    expect(windows[1]!.check("k")).toMatchObject({ allowed: true, resetMs: 30_000, remaining: 97 });
  });

  test("a failed sync keeps the counts for the next one, and limiting goes on locally", async () => {
    const { store, windows } = replicas(1);
    const w = windows[0]!;
    for (let i = 0; i < 60; i++) w.check("k");
    store.failing = true;
    await expect(w.sync()).rejects.toThrow("database unreachable");
    for (let i = 0; i < 40; i++) expect(w.check("k").allowed).toBe(true);
    expect(w.check("k").allowed).toBe(false);
    store.failing = false;
    await w.sync();
    expect(store.rows.get("gateway|k")!.count).toBe(100);
    expect(w.metrics()).toMatchObject({ syncs: 1, syncFailures: 1 });
  });
});
