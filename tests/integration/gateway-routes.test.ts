import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { adminFetch, authHeaders, runBpm, startBpm, tempDir, type BpmProcess } from "../support/bpm.ts";
import { startConsul, type ConsulAgent } from "../support/consul.ts";
import { startPythonUpstream, type PythonUpstream } from "../support/python-upstream.ts";
import { gatewayDiscovery, waitUntil } from "./consul-helpers.ts";

interface Echo {
  version: string;
  path: string;
  method: string;
}

const stoppers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const stop of stoppers.reverse()) await stop().catch(() => {});
});

async function upstream(version: string, opts: { failing?: boolean } = {}): Promise<PythonUpstream> {
  const u = await startPythonUpstream(version, opts);
  stoppers.push(() => u.stop());
  return u;
}

async function gateway(opts: Parameters<typeof startBpm>[0]): Promise<BpmProcess> {
  const gw = await startBpm({ roles: ["gateway"], ...opts });
  stoppers.push(() => gw.stop().catch(() => gw.kill()));
  return gw;
}

describe("a service in another language, found in Consul, behind a configured route", () => {
  let consul: ConsulAgent;

  test("user-service (Python http.server) at /api/users: prefix stripped, the route's timeout and rate limit applied", async () => {
    consul = await startConsul();
    stoppers.push(() => consul.stop());
    const users = await upstream("1");
    const register = await fetch(`${consul.url}/v1/agent/service/register`, {
      method: "PUT",
      body: JSON.stringify({
        ID: `user-service-${users.port}`,
        Name: "user-service",
        Address: "127.0.0.1",
        Port: users.port,
        Meta: { version: "1" },
        Check: { HTTP: `${users.url}/health`, Interval: "1s", Timeout: "1s" },
      }),
    });
    expect(register.status).toBe(200);

    const gw = await gateway({
      env: { CONSUL_HTTP_ADDR: consul.httpAddr },
      config: {
        consul: { checks: { interval: "1s", timeout: "1s", deregister_critical_service_after: "30s" }, backoff: { initial: "100ms", max: "1s" } },
        fallback: { shouldCache: false },
        gateway: {
          routes: [
            { prefix: "/api/users", service: "user-service", strip_prefix: true, timeout: "1s", rate_limit: { requests: 3, window: "60s" }, methods: ["GET", "POST"] },
            { prefix: "/api/tasks", service: "task-service" },
          ],
        },
      },
    });
    // the gateway sees the instance once Consul's check passes
    await waitUntil("user-service passing in the gateway's view", async () => (await gatewayDiscovery(gw)).instances["user-service"] === 1, 30_000);

    const a = await authHeaders("route-a");
    const hello = await fetch(`${gw.url()}/api/users/hello?x=1`, { headers: a });
    expect(hello.status).toBe(200);
    expect((await hello.json()) as Echo).toEqual({ version: "1", path: "/hello?x=1", method: "GET" });
    const root = await fetch(`${gw.url()}/api/users`, { headers: a });
    expect(((await root.json()) as Echo).path).toBe("/");

    // the route's methods: DELETE is answered here, never forwarded
    const del = await fetch(`${gw.url()}/api/users/1`, { method: "DELETE", headers: await authHeaders("route-b") });
    expect(del.status).toBe(405);
    expect(del.headers.get("allow")).toBe("GET, POST, HEAD, OPTIONS");

    // the route's timeout (1 s) against an upstream that takes 5 s: 504, and the upstream was asked
    const slow = await fetch(`${gw.url()}/api/users/slow`, { headers: await authHeaders("route-c") });
    expect(slow.status).toBe(504);
    expect(((await slow.json()) as { code: string }).code).toBe("UPSTREAM_TIMEOUT");

    // the route's limit: 3 per client per minute, on top of the gateway-wide one
    const d = await authHeaders("route-d");
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${gw.url()}/api/users/x`, { headers: d })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    // another client still has its own three
    expect((await fetch(`${gw.url()}/api/users/x`, { headers: await authHeaders("route-e") })).status).toBe(200);

    // the instance's version as discovery found it (Consul Meta.version)
    const status = (await (await fetch(`${gw.url()}/api/_gateway/services`, { headers: a })).json()) as { services: Record<string, { endpoints: { version: string }[] }> };
    expect(status.services["user-service"]!.endpoints.map((e) => e.version)).toEqual(["1"]);
  }, 90_000);
});

describe("versions side by side (static discovery, two tiny upstreams)", () => {
  let gw: BpmProcess;
  let auth: Record<string, string>;

  async function get(headers: Record<string, string> = {}): Promise<Echo> {
    const res = await fetch(`${gw.url()}/api/users/who`, { headers: { ...auth, ...headers } });
    if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
    return (await res.json()) as Echo;
  }

  test("canary 90/10 over 2,000 requests: the v2 share within 10% ± 2%", async () => {
    const [v1, v2] = await Promise.all([upstream("1"), upstream("2")]);
    gw = await gateway({
      config: {
        discovery: { static: { "user-service": [{ address: "127.0.0.1", port: v1.port, version: "1" }, { address: "127.0.0.1", port: v2.port, version: "2" }] } },
        fallback: { shouldCache: false },
        gateway: { routes: [{ prefix: "/api/users", service: "user-service", strip_prefix: true, versions: { "1": 90, "2": 10 } }] },
      },
    });
    auth = await authHeaders("canary");
    const counts: Record<string, number> = {};
    // eight clients at once, 250 requests each
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 250; i++) {
          const { version } = await get();
          counts[version] = (counts[version] ?? 0) + 1;
        }
      }),
    );
    const share = (counts["2"] ?? 0) / 2000;
    console.log(`canary 90/10 over 2000 requests: v1 ${counts["1"]}, v2 ${counts["2"]} (${(share * 100).toFixed(1)}%)`);
    expect((counts["1"] ?? 0) + (counts["2"] ?? 0)).toBe(2000);
    expect(share).toBeGreaterThanOrEqual(0.08);
    expect(share).toBeLessThanOrEqual(0.12);
  }, 90_000);

  test("x-bpm-version (or the bpm_version cookie) pins: 100% to the pinned version", async () => {
    const seen = async (n: number, headers: Record<string, string>) => {
      const versions = new Set<string>();
      await Promise.all(Array.from({ length: 8 }, async () => {
        for (let i = 0; i < n / 8; i++) versions.add((await get(headers)).version);
      }));
      return versions;
    };
    expect(await seen(200, { "x-bpm-version": "2" })).toEqual(new Set(["2"]));
    expect(await seen(96, { cookie: "bpm_version=1" })).toEqual(new Set(["1"]));
    const nowhere = await fetch(`${gw.url()}/api/users/who`, { headers: { ...auth, "x-bpm-version": "3" } });
    expect(nowhere.status).toBe(503);
    expect(((await nowhere.json()) as { error: string }).error).toContain("user-service at version 3");
  }, 60_000);

  test("blue-green switch at runtime (PUT /admin/routes/versions): 0 failed requests; every request sent after it goes to v2", async () => {
    // only an admin may change the weights, and only to a valid split of a route that splits
    const url = `${gw.url()}/admin/routes/versions`;
    expect((await fetch(url, { method: "PUT", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ prefix: "/api/users", versions: { "2": 100 } }) })).status).toBe(403);
    const put = (body: unknown) => adminFetch(url, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await put({ prefix: "/api/users", versions: { "1": 0, "2": 0 } })).status).toBe(400);
    expect((await put({ prefix: "/api/nothing", versions: { "2": 100 } })).status).toBe(404);

    let switched = false;
    let stop = false;
    let failures = 0;
    let afterSwitch = 0;
    let v1AfterSwitch = 0;
    let before = 0;
    const workers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const sentAfterSwitch = switched;
        try {
          const { version } = await get();
          if (sentAfterSwitch) {
            afterSwitch++;
            if (version === "1") v1AfterSwitch++;
          } else before++;
        } catch {
          failures++;
        }
      }
    });
    try {
      await waitUntil("traffic before the switch", () => before >= 200, 30_000);
      const res = await put({ prefix: "/api/users", versions: { "1": 0, "2": 100 } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { versions: Record<string, number> }).versions).toEqual({ "1": 0, "2": 100 });
      switched = true;
      await waitUntil("traffic after the switch", () => afterSwitch >= 300, 30_000);
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    console.log(`blue-green switch under 4 clients: ${before} requests before, ${afterSwitch} after, ${failures} failed, ${v1AfterSwitch} to v1 after`);
    expect(failures).toBe(0);
    expect(v1AfterSwitch).toBe(0);
    const routes = (await (await adminFetch(`${gw.url()}/admin/routes`)).json()) as { routes: { prefix: string; versions: Record<string, number> }[] };
    expect(routes.routes[0]).toMatchObject({ prefix: "/api/users", versions: { "1": 0, "2": 100 } });
  }, 90_000);
});

describe("automatic rollback", () => {
  test("v2 answering 503 to everything under 4 clients: all traffic back on v1, 0 failed GETs (retried on v1), the rollback counted and shown", async () => {
    const [v1, v2] = await Promise.all([upstream("1"), upstream("2", { failing: true })]);
    const gw = await gateway({
      config: {
        discovery: { static: { "user-service": [{ address: "127.0.0.1", port: v1.port, version: "1" }, { address: "127.0.0.1", port: v2.port, version: "2" }] } },
        fallback: { shouldCache: false },
        // outlier ejection would take v2 out first; this test watches the rollback alone
        load_balancer: { outlier_detection: { consecutive_errors: 100000 } },
        gateway: { routes: [{ prefix: "/api/users", service: "user-service", versions: { "1": 50, "2": 50 }, rollback: { margin: 20, window: "60s", min_requests: 10 } }] },
      },
    });
    const auth = await authHeaders("rollback");
    let failures = 0;
    let ok = 0;
    let rolledBack = false;
    let v2AfterRollback = 0;
    let stop = false;
    const workers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        const sentAfter = rolledBack;
        const res = await fetch(`${gw.url()}/api/users/who`, { headers: auth }).catch(() => undefined);
        if (res === undefined) {
          failures++;
          continue;
        }
        if (res.status !== 200) {
          failures++;
          await res.text();
          continue;
        }
        ok++;
        const { version } = (await res.json()) as Echo;
        if (sentAfter && version === "2") v2AfterRollback++;
      }
    });
    const routes = async () => ((await (await adminFetch(`${gw.url()}/admin/routes`)).json()) as { routes: { versions: Record<string, number>; rollback: { last: { from: string; to: string } | null } }[] }).routes[0]!;
    try {
      await waitUntil("the rollback", async () => (await routes()).rollback.last !== null, 30_000);
      rolledBack = true;
      const okAtRollback = ok;
      await waitUntil("traffic after the rollback", () => ok >= okAtRollback + 200, 30_000);
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    const r = await routes();
    expect(r.versions).toEqual({ "1": 100, "2": 0 });
    expect(r.rollback.last).toMatchObject({ from: "2", to: "1" });
    const metrics = await (await fetch(`${gw.url()}/metrics`)).text();
    expect(metrics).toMatch(/^bpm_gateway_version_rollbacks_total\{route="\/api\/users",service="user-service",from="2"\} 1$/m);
    expect(gw.output()).toContain("version rolled back");
    console.log(`rollback under 4 clients: ${ok} answered, ${failures} failed, ${v2AfterRollback} to v2 after the rollback`);
    expect(failures).toBe(0);
    expect(v2AfterRollback).toBe(0);
  }, 90_000);
});

describe("invalid routes stop start-up with exit 2 and one line naming the key", () => {
  async function start(gateway: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    const dir = tempDir();
    const path = join(dir, "config.json");
    writeFileSync(path, JSON.stringify({ roles: { gateway: { port: 0 } }, http: { host: "127.0.0.1" }, gateway, ...extra }));
    const r = await runBpm(["--role=gateway", "--config", path, "--data-dir", dir]);
    return { code: r.code, lines: r.stderr.trim().split("\n").filter((l) => l !== "") };
  }

  test("overlapping prefixes, unknown policy names, bad methods, a limit for a service no route serves", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ routes: [{ prefix: "/api/users", service: "a" }, { prefix: "/api/users/", service: "b" }] }, /^config: gateway\.routes\.1\.prefix overlaps route 0/],
      [{ routes: [{ prefix: "/api/users", service: "a", retry: "noSuchRetry" }] }, /^config: gateway\.routes\.0\.retry must name an entry under resilience4j\.retry\.instances, got "noSuchRetry"$/],
      [{ routes: [{ prefix: "/api/users", service: "a", methods: ["GET", "CONNECT"] }] }, /^config: gateway\.routes\.0\.methods\.1 must be one of/],
      [{ routes: [{ prefix: "/api/users", service: "a", rollback: { margin: 10 } }] }, /^config: gateway\.routes\.0\.rollback needs versions on the same route$/],
      [{ routes: [{ prefix: "/api/users", service: "a", versions: { "1": 100 }, rollback: { margin: 10, stable: "7" } }] }, /^config: gateway\.routes\.0\.rollback\.stable must be one of the route's versions, got "7"$/],
      [{ routes: [{ prefix: "/api/users", service: "a" }], rate_limit: { requests: 10, window: "1s", services: { "task-service": { requests: 1, window: "1s" } } } }, /^config: gateway\.rate_limit\.services\.task-service names no routed service/],
    ];
    for (const [gw, message] of cases) {
      const { code, lines } = await start(gw);
      expect({ code, lines }).toMatchObject({ code: 2, lines: [expect.stringMatching(message)] });
    }
  }, 60_000);
});
