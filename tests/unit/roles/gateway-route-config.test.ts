import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../../src/config/loader.ts";
import { buildRoutes, RouteTable, upstreamPath } from "../../../src/roles/gateway/routes.ts";
import { methodVerdict } from "../../../src/roles/gateway/methods.ts";

const load = (routes: unknown, extra: Record<string, unknown> = {}) => loadConfig({ env: {}, overrides: { gateway: { routes }, ...extra } });

describe("gateway.routes", () => {
  test("the default table is the bpm roles; a configured table replaces it", async () => {
    const dflt = new RouteTable(buildRoutes((await loadConfig({ env: {} })).gateway.routes));
    expect(dflt.routes.map((r) => [r.prefix, r.service, r.downstream])).toEqual([
      ["/api/tasks", "task-service", "taskService"],
      ["/api/forms", "form-service", "formService"],
      ["/api/processes", "process-service", "processService"],
    ]);
    const cfg = await load([{ prefix: "/api/users/", service: "user-service", strip_prefix: true }]);
    const t = new RouteTable(buildRoutes(cfg.gateway.routes, cfg.resilience4j));
    expect(t.match("/api/tasks")).toBeUndefined();
    expect(t.match("/api/users/7")?.service).toBe("user-service");
    expect(t.routes[0]!.prefix).toBe("/api/users");
    expect(t.routes[0]!.downstream).toBe("userService");
  });

  test("the longest prefix wins, by whole segments, whatever the order given", async () => {
    const cfg = await load([
      { prefix: "/api", service: "legacy" },
      { prefix: "/api/users/admin", service: "user-admin" },
      { prefix: "/api/users", service: "user-service" },
    ]);
    const t = new RouteTable(buildRoutes(cfg.gateway.routes, cfg.resilience4j));
    expect(t.match("/api/users/admin/1")?.service).toBe("user-admin");
    expect(t.match("/api/users/administrators")?.service).toBe("user-service");
    expect(t.match("/api/users")?.service).toBe("user-service");
    expect(t.match("/api/usersX")?.service).toBe("legacy");
    expect(t.match("/apix")).toBeUndefined();
    // a route over one of the gateway's own paths leaves that path to the gateway
    expect(t.match("/api/_gateway/services")).toBeUndefined();
    expect(t.match("/api/_gatewayX")?.service).toBe("legacy");
  });

  test("strip_prefix: the rest of the path goes upstream, the bare prefix as /", async () => {
    const cfg = await load([{ prefix: "/api/users", service: "user-service", strip_prefix: true }, { prefix: "/api/keep", service: "keep" }]);
    const [strip, keep] = buildRoutes(cfg.gateway.routes, cfg.resilience4j);
    expect(upstreamPath(strip!, "/api/users/hello/x")).toBe("/hello/x");
    expect(upstreamPath(strip!, "/api/users")).toBe("/");
    expect(upstreamPath(strip!, "/api/users/")).toBe("/");
    expect(upstreamPath(keep!, "/api/keep/a")).toBe("/api/keep/a");
  });

  test("methods: a bpm role's own by default; another service's as given (GET brings HEAD), else every routable one", async () => {
    const cfg = await load([
      { prefix: "/api/forms", service: "form-service" },
      { prefix: "/api/users", service: "user-service", methods: ["GET", "POST"] },
      { prefix: "/api/any", service: "any-service" },
    ]);
    const [forms, users, any] = buildRoutes(cfg.gateway.routes, cfg.resilience4j);
    expect(forms!.bpm).toBe(true);
    expect(methodVerdict(forms!, "DELETE").kind).toBe("refuse");
    expect(users!.bpm).toBe(false);
    expect(methodVerdict(users!, "HEAD").kind).toBe("forward");
    const del = methodVerdict(users!, "DELETE");
    expect(del.kind === "refuse" && del.allow).toBe("GET, POST, HEAD, OPTIONS");
    for (const m of ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"]) expect(methodVerdict(any!, m).kind).toBe("forward");
    expect(methodVerdict(any!, "TRACE").kind).toBe("refuse");
    const odd = methodVerdict(any!, "BREW");
    expect(odd.kind === "refuse" && odd.error.httpStatus).toBe(501);
  });

  test("timeout, rate_limit, streamed and versions are read", async () => {
    const cfg = await load([{ prefix: "/api/users", service: "user-service", timeout: "1.5s", rate_limit: { requests: 5, window: "10s" }, streamed: true, versions: { "1": 90, "2": 10 } }]);
    const [r] = buildRoutes(cfg.gateway.routes, cfg.resilience4j);
    expect(r!.timeoutMs).toBe(1500);
    expect(r!.rateLimit).toEqual({ requests: 5, window: 10_000 });
    expect(r!.streamed).toBe(true);
    expect(r!.split?.all).toEqual({ "1": 90, "2": 10 });
  });

  test("invalid routes are refused with one line naming the key", async () => {
    const bad: [unknown, RegExp][] = [
      [[{ prefix: "/api/users", service: "a" }, { prefix: "/api/users/", service: "b" }], /^config: gateway\.routes\.1\.prefix overlaps route 0 \(the same prefix twice\), got "\/api\/users"$/],
      [[{ prefix: "/admin/x", service: "a" }], /^config: gateway\.routes\.0\.prefix overlaps the gateway's own path \/admin/],
      [[{ prefix: "/api", service: "a" }, { prefix: "/api/_gateway/x", service: "b" }], /^config: gateway\.routes\.1\.prefix overlaps the gateway's own path \/api\/_gateway/],
      [[{ prefix: "/health", service: "a" }], /^config: gateway\.routes\.0\.prefix overlaps the gateway's own path \/health/],
      [[{ prefix: "/", service: "a" }], /^config: gateway\.routes\.0\.prefix must be a path prefix/],
      [[{ prefix: "api/users", service: "a" }], /^config: gateway\.routes\.0\.prefix must be a path prefix/],
      [[{ prefix: "/api/../x", service: "a" }], /^config: gateway\.routes\.0\.prefix must be a path prefix/],
      [[{ prefix: "/api/users?x=1", service: "a" }], /^config: gateway\.routes\.0\.prefix must be a path prefix/],
      [[{ prefix: "/api/users", service: "a b" }], /^config: gateway\.routes\.0\.service must be a service name/],
      [[{ prefix: "/api/users", service: "a", methods: ["GET", "FETCH"] }], /^config: gateway\.routes\.0\.methods\.1 must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got "FETCH"$/],
      [[{ prefix: "/api/users", service: "a", methods: ["TRACE"] }], /^config: gateway\.routes\.0\.methods\.0 must be one of/],
      [[{ prefix: "/api/users", service: "a", methods: [] }], /^config: gateway\.routes\.0\.methods must name at least one method/],
      [[{ prefix: "/api/users", service: "a", versions: { "1": 0, "2": 0 } }], /^config: gateway\.routes\.0\.versions must give at least one version a weight above 0/],
      [[{ prefix: "/api/users", service: "a", versions: { "1": -5 } }], /^config: gateway\.routes\.0\.versions\.1 must be a weight in 0\.\.1000/],
      [[{ prefix: "/api/users", service: "a", timeout: "soon" }], /^config: gateway\.routes\.0\.timeout must be the route's timeout/],
      [[{ prefix: "/api/users", service: "a", rate_limit: { requests: 0, window: "1s" } }], /^config: gateway\.routes\.0\.rate_limit\.requests must be a positive number/],
      [[{ prefix: "/api/users", service: "a", retries: 3 }], /^config: gateway\.routes\.0\.retries is not a known key/],
      [[], /^config: gateway\.routes must hold at least one route/],
    ];
    for (const [routes, message] of bad) await expect(load(routes)).rejects.toThrow(message);
  });

  test("a retry policy name that resilience4j does not configure is refused at start", async () => {
    const cfg = await load([{ prefix: "/api/users", service: "user-service", retry: "fastRetry" }]);
    expect(() => buildRoutes(cfg.gateway.routes, cfg.resilience4j)).toThrow(/^config: gateway\.routes\.0\.retry must name an entry under resilience4j\.retry\.instances, got "fastRetry"$/);
    const ok = await load([{ prefix: "/api/users", service: "user-service", retry: "fastRetry" }], { resilience4j: { retry: { instances: { fastRetry: { maxAttempts: 2 } } } } });
    expect(buildRoutes(ok.gateway.routes, ok.resilience4j)[0]!.retry).toBe("fastRetry");
  });

  test("static discovery takes any service, with a version", async () => {
    const cfg = await loadConfig({ env: {}, overrides: { discovery: { static: { "user-service": [{ address: "127.0.0.1", port: 9001, version: "2" }] } } } });
    expect(cfg.discovery.static["user-service"]![0]!.version).toBe("2");
    await expect(loadConfig({ env: {}, overrides: { discovery: { static: { "user-service": [{ address: "127.0.0.1", port: 9001, version: "two words" }] } } } })).rejects.toThrow(
      /^config: discovery\.static\.user-service\.0\.version must be a version/,
    );
  });
});
