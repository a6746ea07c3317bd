import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import * as v from "valibot";
import formProto from "../../../protos/form.proto" with { type: "text" };
import { ServiceBalancers } from "../../../src/balancing/service-balancers.ts";
import { parseLoadBalancerConfig } from "../../../src/balancing/config.ts";
import type { InstancesListener, Registry, ServiceInstance } from "../../../src/discovery/types.ts";
import { loadProtos } from "../../../src/platform/grpc.ts";
import { Resilience4jSchema } from "../../../src/resilience/config.ts";
import { BulkheadFullError, RateLimitedError, TimeoutError } from "../../../src/resilience/errors.ts";
import { ResilienceRegistry } from "../../../src/resilience/registry.ts";
import { Downstreams } from "../../../src/transport/downstreams.ts";
import { ResilientGrpcClient } from "../../../src/transport/grpc-client.ts";
import { Metrics } from "../../../src/telemetry/metrics.ts";

const forms = loadProtos([formProto]);

/** A real gRPC form-service whose GetForm answers after `delayMs` (or when released). */
let server: grpc.Server;
let port = 0;
let calls = 0;
let hold: Promise<void> | undefined;
beforeAll(async () => {
  server = new grpc.Server();
  const svc = (grpc.loadPackageDefinition(forms.definition) as unknown as { formservice: { FormService: grpc.ServiceClientConstructor } }).formservice.FormService.service;
  server.addService(svc, {
    GetForm: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
      calls++;
      void (hold ?? Promise.resolve()).then(() => cb(null, { key: "k", version: 1, title: "t" }));
    },
  });
  port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
});
afterAll(() => server.forceShutdown());

const registry: Registry = {
  instances: (service: string): readonly ServiceInstance[] =>
    service === "form-service" ? [{ id: "form-service-127.0.0.1-1", service, address: "127.0.0.1", port: 1, grpcPort: port, weight: 100, tags: [], meta: {} }] : [],
  watch(service: string, listener: InstancesListener) {
    listener(this.instances(service));
    return () => {};
  },
  health: () => ({ status: "UP" as const }),
  close: async () => {},
};

function client(section: unknown) {
  const parsed = v.parse(Resilience4jSchema, section);
  const resilience = new ResilienceRegistry(parsed);
  const balancers = new ServiceBalancers({ registry, config: parseLoadBalancerConfig({ health_check: { enabled: false }, outlier_detection: { enabled: false } }) });
  const downstreams = new Downstreams(parsed, resilience, new Metrics());
  const c = new ResilientGrpcClient({ service: "form-service", downstream: "formService", definition: forms.definition, protoService: "formservice.FormService", balancers, downstreams });
  return { c, close: () => (c.close(), balancers.close()) };
}

describe("role-to-role gRPC calls run the configured pipeline", () => {
  test("ratelimiter: limitForPeriod 1 → the second call is refused without reaching the server", async () => {
    const { c, close } = client({ ratelimiter: { instances: { formService: { limitForPeriod: 1, limitRefreshPeriod: "60s" } } } });
    calls = 0;
    await c.unary("GetForm", { key: "k", version: 0 });
    await expect(c.unary("GetForm", { key: "k", version: 0 })).rejects.toBeInstanceOf(RateLimitedError);
    expect(calls).toBe(1);
    close();
  });

  test("bulkhead: maxConcurrentCalls 1 → a second concurrent call is refused (BULKHEAD_FULL)", async () => {
    const { c, close } = client({ bulkhead: { instances: { formService: { maxConcurrentCalls: 1 } } } });
    calls = 0;
    let release!: () => void;
    hold = new Promise<void>((r) => (release = r));
    const first = c.unary("GetForm", { key: "k", version: 0 });
    while (calls < 1) await Bun.sleep(5);
    await expect(c.unary("GetForm", { key: "k", version: 0 })).rejects.toBeInstanceOf(BulkheadFullError);
    release();
    hold = undefined;
    await first;
    close();
  });

  test("timelimiter: timeoutDuration 50ms → a slower answer is a TimeoutError", async () => {
    const { c, close } = client({ timelimiter: { instances: { formService: { timeoutDuration: "50ms" } } }, retry: { instances: { formService: { maxAttempts: 1 } } } });
    let release!: () => void;
    hold = new Promise<void>((r) => (release = r));
    await expect(c.unary("GetForm", { key: "k", version: 0 })).rejects.toBeInstanceOf(TimeoutError);
    release();
    hold = undefined;
    close();
  });
});
