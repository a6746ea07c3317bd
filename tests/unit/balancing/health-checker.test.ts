import { afterEach, describe, expect, test } from "bun:test";
import { HealthChecker, type HealthProbe, httpHealthProbe } from "../../../src/balancing/health-checker.ts";
import type { ServiceInstance } from "../../../src/discovery/types.ts";
import { FakeClock } from "../../../src/platform/clock.ts";
import { flush, instance, instances } from "./helpers.ts";

const INTERVAL = 10_000;
const TIMEOUT = 5_000;

function setup(probe: HealthProbe) {
  const clock = new FakeClock();
  const changes: string[] = [];
  const checker = new HealthChecker({
    probe,
    intervalMs: INTERVAL,
    timeoutMs: TIMEOUT,
    healthyThreshold: 2,
    unhealthyThreshold: 3,
    clock,
    onChange: (inst, healthy) => changes.push(`${inst.id}:${healthy ? "up" : "down"}`),
  });
  /** Runs the probe round due now and lets its answers land. */
  const round = async (advanceMs: number) => {
    clock.advance(advanceMs);
    await flush();
  };
  return { clock, checker, changes, round };
}

describe("active health checks (interval 10s, timeout 5s, thresholds 2/3)", () => {
  test("unhealthy after 3 consecutive failures, healthy again after 2 successes", async () => {
    const up = new Map([["a", true], ["b", true]]);
    const { checker, changes, round } = setup(async (inst) => up.get(inst.id)!);
    checker.setInstances(instances("a", "b"));
    await round(0); // first probe at once
    up.set("a", false);
    await round(INTERVAL);
    await round(INTERVAL);
    expect(changes).toEqual([]);
    expect(checker.isHealthy("a")).toBe(true);
    await round(INTERVAL);
    expect(changes).toEqual(["a:down"]);

    up.set("a", true);
    await round(INTERVAL);
    expect(checker.isHealthy("a")).toBe(false);
    await round(INTERVAL);
    expect(changes).toEqual(["a:down", "a:up"]);
    expect(checker.isHealthy("b")).toBe(true);
    checker.close();
  });

  test("a failure in between resets the success count (and vice versa)", async () => {
    const script = [false, false, true, false, false, true, false, false, false];
    let i = 0;
    const { checker, changes, round } = setup(async () => script[i++]!);
    checker.setInstances(instances("a"));
    await round(0);
    for (let k = 1; k < script.length - 1; k++) await round(INTERVAL);
    expect(changes).toEqual([]); // never three failures in a row yet
    await round(INTERVAL);
    expect(i).toBe(script.length);
    expect(changes).toEqual(["a:down"]);
    checker.close();
  });

  test("coming back needs successes in a row", async () => {
    const script = [false, false, false, true, false, true, false, true, true];
    let i = 0;
    const { checker, changes, round } = setup(async () => script[i++]!);
    checker.setInstances(instances("a"));
    await round(0);
    for (let k = 1; k < script.length - 1; k++) await round(INTERVAL);
    expect(changes).toEqual(["a:down"]);
    await round(INTERVAL);
    expect(changes).toEqual(["a:down", "a:up"]);
    checker.close();
  });

  test("a probe that does not answer within the timeout counts as a failure", async () => {
    const signals: AbortSignal[] = [];
    const { checker, changes, round } = setup((_inst, signal) => {
      signals.push(signal);
      return new Promise<boolean>(() => {}); // hangs, ignoring its signal
    });
    checker.setInstances(instances("a"));
    await round(0);
    await round(TIMEOUT); // 1st fails at 5 s; 2nd starts at 10 s
    await round(INTERVAL - TIMEOUT);
    await round(TIMEOUT);
    await round(INTERVAL - TIMEOUT);
    expect(changes).toEqual([]);
    await round(TIMEOUT);
    expect(changes).toEqual(["a:down"]);
    expect(signals.length).toBe(3);
    expect(signals.every((s) => s.aborted)).toBe(true);
    checker.close();
  });

  test("a probe that throws counts as a failure", async () => {
    const { checker, changes, round } = setup(async () => {
      throw new Error("ECONNREFUSED");
    });
    checker.setInstances(instances("a"));
    await round(0);
    await round(INTERVAL);
    await round(INTERVAL);
    expect(changes).toEqual(["a:down"]);
    checker.close();
  });

  test("removed instances stop being probed; survivors keep their counts", async () => {
    const probed: string[] = [];
    const { checker, clock, changes, round } = setup(async (inst) => {
      probed.push(inst.id);
      return inst.id !== "a";
    });
    checker.setInstances(instances("a", "b"));
    await round(0);
    await round(INTERVAL);
    checker.setInstances(instances("a"));
    await round(INTERVAL);
    expect(changes).toEqual(["a:down"]);
    expect(probed.filter((id) => id === "b").length).toBe(2);
    checker.close();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe("default HTTP probe", () => {
  let server: ReturnType<typeof Bun.serve> | undefined;
  afterEach(() => server?.stop(true));

  function target(): ServiceInstance {
    return instance("a", { address: "127.0.0.1", port: server!.port! });
  }

  test("200 from /health is healthy, 503 is not", async () => {
    let status = 200;
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => new Response(JSON.stringify({ status: status === 200 ? "UP" : "DOWN" }), { status: new URL(req.url).pathname === "/health" ? status : 404 }),
    });
    const probe = httpHealthProbe();
    expect(await probe(target(), AbortSignal.timeout(2_000))).toBe(true);
    status = 503;
    expect(await probe(target(), AbortSignal.timeout(2_000))).toBe(false);
  });

  test("a closed port rejects (a failed probe)", async () => {
    server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
    const inst = target();
    server.stop(true);
    server = undefined;
    await expect(httpHealthProbe()(inst, AbortSignal.timeout(2_000))).rejects.toThrow();
  });
});
