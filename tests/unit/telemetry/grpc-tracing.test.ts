import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { NotFoundError } from "../../../src/platform/errors.ts";
import { LOCAL_OPERATOR } from "../../../src/platform/principal.ts";
import { GrpcServer, loadProtos, serverStream, unary } from "../../../src/platform/grpc.ts";
import { createLogger } from "../../../src/platform/logger.ts";
import { grpcClientInterceptor } from "../../../src/telemetry/grpc-spans.ts";
import { Metrics } from "../../../src/telemetry/metrics.ts";
import { shutdownTracing, withSpan } from "../../../src/telemetry/tracing.ts";
import { byName, captureStdout, parentOf, tracingToMemory } from "./helpers.ts";

const PROTO = `syntax = "proto3";
package echo;
service Echo {
  rpc Say (Msg) returns (Msg);
  rpc Count (Msg) returns (stream Msg);
}
message Msg { string text = 1; }`;

type Msg = { text: string };
type EchoClient = grpc.Client & {
  Say(req: Msg, cb: (err: grpc.ServiceError | null, res?: Msg) => void): void;
  Count(req: Msg): grpc.ClientReadableStream<Msg>;
};
const { definition } = loadProtos([PROTO]);
const log = createLogger({ role: "task-service" });

// The server's spans are decided per call, so one server serves traced and untraced tests alike.
let server: GrpcServer;
let port = 0;
beforeAll(async () => {
  server = new GrpcServer({ role: "task-service", log, metrics: new Metrics(), authenticate: () => LOCAL_OPERATOR });
  server.addService(definition, "echo.Echo", {
    Say: unary<Msg, Msg>(async (req) => {
      if (req.text === "missing") throw new NotFoundError("no such thing");
      if (req.text === "crash") throw new Error("bug");
      log.info("saying", { text: req.text });
      return { text: req.text.toUpperCase() };
    }),
    Count: serverStream<Msg, Msg>(async (_req, call) => {
      for (let i = 0; i < 3; i++) call.write({ text: String(i) });
    }),
  });
  port = await server.listen("127.0.0.1", 0);
});
afterAll(() => server.shutdown(0));
afterEach(() => shutdownTracing());

function client(metrics: Metrics) {
  const Ctor = grpc.makeGenericClientConstructor(definition["echo.Echo"] as grpc.ServiceDefinition, "Echo");
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    interceptors: [grpcClientInterceptor({ role: "process-service", peerService: "task-service", address: "127.0.0.1", port, metrics })],
  }) as unknown as EchoClient;
}

const say = (c: EchoClient, text: string) => new Promise<{ err: grpc.ServiceError | null; res?: Msg }>((resolve) => c.Say({ text }, (err, res) => resolve({ err, res })));

describe("a gRPC call is one trace from the caller's work to the handler", () => {
  test("client span (child of the caller's work) → server span (child of the client span), rpc.* attributes", async () => {
    const t = await tracingToMemory(["process-service", "task-service"]);
    const c = client(t.metrics);
    const lines = await captureStdout(async () => {
      const out = await withSpan("advance process", { role: "process-service" }, () => say(c, "hi"));
      expect(out.res).toEqual({ text: "HI" });
    });
    c.close();
    const spans = await t.spans();
    const caller = byName(spans, "advance process");
    const clientSpan = spans.find((s) => s.name === "echo.Echo/Say" && s.kind === SpanKind.CLIENT)!;
    const serverSpan = spans.find((s) => s.name === "echo.Echo/Say" && s.kind === SpanKind.SERVER)!;
    expect(parentOf(clientSpan)).toBe(caller.spanContext().spanId);
    expect(parentOf(serverSpan)).toBe(clientSpan.spanContext().spanId);
    expect(serverSpan.spanContext().traceId).toBe(caller.spanContext().traceId);
    expect(clientSpan.resource.attributes["service.name"]).toBe("process-service");
    expect(serverSpan.resource.attributes["service.name"]).toBe("task-service");
    for (const s of [clientSpan, serverSpan]) {
      expect(s.attributes).toMatchObject({ "rpc.system": "grpc", "rpc.service": "echo.Echo", "rpc.method": "Say", "rpc.grpc.status_code": 0 });
    }
    expect(clientSpan.attributes).toMatchObject({ "peer.service": "task-service", "server.address": "127.0.0.1", "server.port": port });
    // the handler's log line belongs to the server span
    const line = JSON.parse(lines.find((l) => l.includes('"saying"'))!);
    expect(line.span_id).toBe(serverSpan.spanContext().spanId);
  });

  test("NOT_FOUND fails the client span but not the server's; INTERNAL fails both", async () => {
    const t = await tracingToMemory(["process-service", "task-service"]);
    const c = client(t.metrics);
    expect((await say(c, "missing")).err?.code).toBe(grpc.status.NOT_FOUND);
    await captureStdout(async () => {
      expect((await say(c, "crash")).err?.code).toBe(grpc.status.INTERNAL);
    });
    c.close();
    const spans = await t.spans();
    const of = (kind: SpanKind, code: number) => spans.find((s) => s.kind === kind && s.attributes["rpc.grpc.status_code"] === code)!;
    expect(of(SpanKind.CLIENT, grpc.status.NOT_FOUND).status.code).toBe(SpanStatusCode.ERROR);
    expect(of(SpanKind.SERVER, grpc.status.NOT_FOUND).status.code).toBe(SpanStatusCode.UNSET);
    expect(of(SpanKind.CLIENT, grpc.status.INTERNAL).status.code).toBe(SpanStatusCode.ERROR);
    expect(of(SpanKind.SERVER, grpc.status.INTERNAL).status.code).toBe(SpanStatusCode.ERROR);
  });

  test("a server stream is one server span that ends with the stream", async () => {
    const t = await tracingToMemory(["process-service", "task-service"]);
    const c = client(t.metrics);
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = c.Count({ text: "" });
      call.on("data", (m: Msg) => got.push(m.text));
      call.on("end", resolve);
      call.on("error", reject);
    });
    c.close();
    expect(got).toEqual(["0", "1", "2"]);
    const s = (await t.spans()).find((x) => x.kind === SpanKind.SERVER)!;
    expect(s.name).toBe("echo.Echo/Count");
    expect(s.attributes["rpc.grpc.status_code"]).toBe(0);
  });

  test("the interceptor counts client RED metrics whether tracing is on or off", async () => {
    const metrics = new Metrics();
    const c = client(metrics);
    await say(c, "a");
    await say(c, "missing");
    c.close();
    const counts = (await metrics.grpcClientRequests.get()).values.map((v) => [v.labels.code, v.value]);
    expect(counts).toEqual([
      ["OK", 1],
      ["NOT_FOUND", 1],
    ]);
    expect((await metrics.grpcClientDuration.get()).values.find((v) => v.metricName === "bpm_grpc_client_handling_seconds_count")?.value).toBe(2);
  });
});
