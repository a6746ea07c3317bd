import { describe, expect, test } from "bun:test";
import { ConsulCallError } from "../../../src/discovery/consul-client.ts";
import { ConsulOutage } from "../../../src/discovery/consul-outage.ts";
import { ConsulRegistration, goDuration, serviceDefinition } from "../../../src/discovery/registration.ts";
import { FakeClock } from "../../../src/platform/clock.ts";
import { recordingLogger, ScriptedConsul } from "./scripted-consul.ts";

const seedChecks = { intervalMs: 10_000, timeoutMs: 5_000, deregisterCriticalServiceAfterMs: 30_000 };

describe("registration definition (DESIGN.md: Consul registration)", () => {
  test("a service role: Name, stable ID, Address, HTTP Port, tags, Meta, weight and two checks with the seed's timings", () => {
    const def = serviceDefinition({ role: "task-service", host: "box-1", address: "10.0.0.5", httpPort: 8082, grpcPort: 50051, tags: ["v1", "production"], version: "1.2.3", weight: 100, checks: seedChecks });
    expect(def).toEqual({
      ID: "task-service-box-1-8082",
      Name: "task-service",
      Address: "10.0.0.5",
      Port: 8082,
      Tags: ["v1", "production"],
      Meta: { role: "task-service", version: "1.2.3", grpc_port: "50051" },
      Weights: { Passing: 100, Warning: 1 },
      Checks: [
        { CheckID: "service:task-service-box-1-8082:http", Name: "task-service HTTP /health", HTTP: "http://10.0.0.5:8082/health", Method: "GET", Interval: "10s", Timeout: "5s", DeregisterCriticalServiceAfter: "30s" },
        { CheckID: "service:task-service-box-1-8082:grpc", Name: "task-service gRPC health", GRPC: "10.0.0.5:50051", GRPCUseTLS: false, Interval: "10s", Timeout: "5s", DeregisterCriticalServiceAfter: "30s" },
      ],
    });
  });

  test("with TLS on the ports the checks use it and verify the certificate, against the configured name", () => {
    const base = { role: "task-service", host: "h", address: "10.0.0.5", httpPort: 8082, grpcPort: 50051, tags: [], version: "1", weight: 100, checks: seedChecks } as const;
    const def = serviceDefinition({ ...base, httpTls: { serverName: "bpm.internal" }, grpcTls: {} });
    expect(def.Checks[0]).toMatchObject({ HTTP: "https://10.0.0.5:8082/health", TLSSkipVerify: false, TLSServerName: "bpm.internal" });
    expect(def.Checks[1]).toMatchObject({ GRPC: "10.0.0.5:50051", GRPCUseTLS: true, TLSSkipVerify: false });
    expect(def.Checks[1]!.TLSServerName).toBeUndefined();
    const plainHttp = serviceDefinition({ ...base, grpcTls: { serverName: "g.internal" } });
    expect(plainHttp.Checks[0]!.HTTP).toBe("http://10.0.0.5:8082/health");
    expect(plainHttp.Checks[0]!.TLSSkipVerify).toBeUndefined();
    expect(plainHttp.Checks[1]).toMatchObject({ GRPCUseTLS: true, TLSServerName: "g.internal" });
  });

  test("the gateway has no gRPC port: only the HTTP check, no grpc_port in Meta", () => {
    const def = serviceDefinition({ role: "gateway", host: "h", address: "127.0.0.1", httpPort: 8000, tags: [], version: "1", weight: 100, checks: seedChecks });
    expect(def.Checks.map((c) => c.CheckID)).toEqual(["service:gateway-h-8000:http"]);
    expect(def.Meta).toEqual({ role: "gateway", version: "1" });
  });

  test("the ID is URL-safe whatever the hostname; IPv6 addresses get brackets in check targets", () => {
    const def = serviceDefinition({ role: "form-service", host: "my host/ü", address: "::1", httpPort: 8081, grpcPort: 50052, tags: [], version: "1", weight: 100, checks: seedChecks });
    expect(def.ID).toBe("form-service-my_host_-8081");
    expect(def.Checks[0]!.HTTP).toBe("http://[::1]:8081/health");
    expect(def.Checks[1]!.GRPC).toBe("[::1]:50052");
  });

  test("durations are written the way Consul shows them", () => {
    expect([goDuration(10_000), goDuration(1_500), goDuration(250)]).toEqual(["10s", "1500ms", "250ms"]);
  });
});

function setup() {
  const api = new ScriptedConsul();
  const clock = new FakeClock();
  const log = recordingLogger();
  const def = serviceDefinition({ role: "task-service", host: "h", address: "127.0.0.1", httpPort: 8082, grpcPort: 50051, tags: [], version: "1", weight: 100, checks: seedChecks });
  const outage = new ConsulOutage(log, api.address, clock);
  const reg = new ConsulRegistration(def, { api, log, clock, random: () => 0, outage, antiEntropyMs: 15_000, backoff: { initialMs: 1_000, maxMs: 8_000 } });
  reg.start();
  const next = async () => api.untilWaiting();
  return { api, clock, log, reg, next, outage };
}

describe("registration lifecycle", () => {
  test("registers at start, then checks every anti-entropy interval that the agent still has it", async () => {
    const { api, clock, reg, next } = setup();
    expect((await next()).kind).toBe("register");
    api.answer(undefined);
    await api.settle();
    expect(reg.state).toBe("registered");
    clock.advance(14_999);
    await api.settle();
    expect(api.waiting).toBe(0);
    clock.advance(1);
    expect(await next()).toEqual({ kind: "hasService", id: "task-service-h-8082" });
    api.answer(true);
    await api.settle();
    clock.advance(15_000);
    expect((await next()).kind).toBe("hasService");
  });

  test("an agent that forgot us (restart, lost state) gets our registration again", async () => {
    const { api, clock, reg, next, log } = setup();
    await next();
    api.answer(undefined);
    await api.settle();
    clock.advance(15_000);
    await next();
    api.answer(false);
    const again = await next();
    expect(again.kind).toBe("register");
    // it was passing a moment ago: its checks start passing, the first real run still decides
    if (again.kind === "register") expect(again.definition.Checks.map((c) => c.Status)).toEqual(["passing", "passing"]);
    api.answer(undefined);
    await api.settle();
    expect(reg.registeredCount).toBe(2);
    expect(log.lines.filter((l) => l.level === "warn").map((l) => l.msg)).toEqual(["consul agent no longer has our registration (restarted?); registering again"]);
  });

  test("the first registration starts with Consul's default (critical until the first check passes)", async () => {
    const { next } = setup();
    const first = await next();
    expect(first.kind === "register" && first.definition.Checks.every((c) => c.Status === undefined)).toBe(true);
  });

  test("when Consul answers again after an outage, the registration is checked at once, not at the next interval", async () => {
    const { api, clock, next, outage } = setup();
    await next();
    api.answer(undefined);
    await api.settle();
    // discovery saw the outage and its end while the registration slept its interval
    outage.failed("discovery of x", new Error("ECONNREFUSED"), "serving cached");
    clock.advance(2_000);
    outage.succeeded("discovery of x");
    expect((await next()).kind).toBe("hasService");
    api.answer(false);
    expect((await next()).kind).toBe("register");
  });

  test("Consul unreachable at start: the role keeps going, one warning, retries with backoff until it registers", async () => {
    const { api, clock, reg, next, log } = setup();
    for (const wait of [500, 1_000, 2_000, 4_000, 4_000]) {
      await next();
      api.fail();
      await api.settle();
      clock.advance(wait - 1);
      await api.settle();
      expect(api.waiting).toBe(0);
      clock.advance(1);
    }
    expect((await next()).kind).toBe("register");
    api.answer(undefined);
    await api.settle();
    expect(reg.state).toBe("registered");
    const warnings = log.lines.filter((l) => l.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toContain("task-service-h-8082 is not registered yet and the role keeps running");
    expect(log.lines.some((l) => l.level === "info" && l.msg.includes("answers again after"))).toBe(true);
  });

  test("an agent refusing the registration (ACL, bad definition) is logged as an error once, not as an outage", async () => {
    const { api, clock, next, log } = setup();
    for (let i = 0; i < 3; i++) {
      await next();
      api.fail(new ConsulCallError("consul answered 403: Permission denied", 403));
      await api.settle();
      clock.advance(10_000);
    }
    expect(log.lines.filter((l) => l.level === "error")).toHaveLength(1);
    expect(log.lines.filter((l) => l.level === "warn")).toHaveLength(0);
  });

  test("deregister() stops the loop (aborting a call in flight) and removes the service", async () => {
    const { api, clock, reg, next } = setup();
    await next();
    api.answer(undefined);
    await api.settle();
    clock.advance(15_000);
    await next(); // anti-entropy check in flight
    const done = reg.deregister();
    expect(await next()).toEqual({ kind: "deregister", id: "task-service-h-8082" });
    api.answer(undefined);
    await done;
    expect(reg.state).toBe("deregistered");
    clock.advance(120_000);
    await api.settle();
    expect(api.waiting).toBe(0);
  });
});
