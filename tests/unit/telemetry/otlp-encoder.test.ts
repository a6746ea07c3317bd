// bpm's OTLP protobuf encoder writes exactly what the OpenTelemetry library's serializer writes.
import { afterEach, expect, test } from "bun:test";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { OtlpTraceEncoder } from "../../../src/telemetry/otlp-encoder.ts";
import type { LeanSpan } from "../../../src/telemetry/span.ts";
import { extractContext } from "../../../src/telemetry/propagation.ts";
import { runInSpan, shutdownTracing, startSpan } from "../../../src/telemetry/tracing.ts";
import { tracingToMemory } from "./helpers.ts";

afterEach(() => shutdownTracing());

const library = (spans: Parameters<OtlpTraceEncoder["encode"]>[0]) => Buffer.from(ProtobufTraceSerializer.serializeRequest(spans as never)!);

test("every kind of span content encodes to the library's bytes, batch after batch (caches included)", async () => {
  const t = await tracingToMemory(["gateway", "task-service"], { OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test,team=ünïcode" });
  // a remote parent with tracestate
  const remote = extractContext({ traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "vendor=abc,other=1" });
  for (let i = 0; i < 3; i++) {
    const server = startSpan(`GET /api/tasks/:id`, {
      role: "gateway",
      parent: remote,
      kind: SpanKind.SERVER,
      attributes: { "http.request.method": "GET", "url.path": `/api/tasks/${i}`, "http.response.status_code": 200 + i, big: 2 ** 40, negative: -5, ratio: 0.25, ok: true, list: ["a", "b"], nums: [1, 2.5] },
    });
    runInSpan(server, () => {
      const client = startSpan("GET /api/tasks/:id", { kind: SpanKind.CLIENT, attributes: { "peer.service": "task-service", "server.port": 8082, "long.value": "x".repeat(100 + i), "longer.value": "y".repeat(200 + i), "long.unicode": `${"z".repeat(120)}ü${i}`, "unicode.value": `日本語-${i}` } });
      client.addEvent("retry", { "retry.attempt": 1, "retry.delay_ms": 12.5, "retry.cause": "503" });
      client.addEvent("no attributes");
      client.setStatus({ code: SpanStatusCode.ERROR, message: "upstream said 503 — ünïcode" });
      client.recordException(new Error("boom"));
      client.end();
    });
    server.end();
    // another role's tracer (another resource), a root span with a link
    const linked = startSpan("outbox dispatch createTask", {
      role: "task-service",
      root: true,
      kind: SpanKind.PRODUCER,
      links: [{ context: trace.getSpanContext(remote)!, attributes: { "link.kind": "writer" } }],
    });
    linked.end();
    // times the caller gives (not the span's own clock readings) take the encoder's other time path
    const given = startSpan("given times", { role: "task-service", startTime: [1_700_000_000 + i, 999_999_999] });
    given.end([1_700_000_001 + i, 5]);
  }
  const spans = await t.spans();
  expect(spans.length).toBe(12);
  const encoder = new OtlpTraceEncoder();
  // the same encoder for several batches: what it caches must not change the bytes
  for (const batch of [spans, spans.slice(0, 4), spans.slice(4), spans]) expect(Buffer.from(encoder.encode(batch))).toEqual(library(batch));
  // a tiny cache (full at once) and a large batch that makes the buffer grow
  const small = new OtlpTraceEncoder(1);
  const many = Array.from({ length: 400 }, () => spans).flat();
  expect(Buffer.from(small.encode(many))).toEqual(library(many));
  // keys whose values keep changing stop being cached part-way through a batch
  const fickle = new OtlpTraceEncoder(4_096, 2);
  for (const batch of [spans, spans]) expect(Buffer.from(fickle.encode(batch))).toEqual(library(batch));
  expect(encoder.encode([]).length).toBe(0);
});

test("a request written into a spare buffer is the same bytes; a spare too small for it is left alone", async () => {
  const t = await tracingToMemory(["gateway"]);
  const end = (n: number) => {
    for (let i = 0; i < n; i++) startSpan("GET /api/tasks/:id", { role: "gateway", kind: SpanKind.SERVER, attributes: { "url.path": `/api/tasks/${i}` } }).end();
  };
  end(20);
  const spans = await t.spans();
  const encoder = new OtlpTraceEncoder();
  for (const span of spans.slice(0, 10)) encoder.append(span);
  const small = new Uint8Array(8);
  const intoSmall = encoder.take(small);
  expect(intoSmall.buffer).not.toBe(small.buffer);
  expect(Buffer.from(intoSmall)).toEqual(library(spans.slice(0, 10)));
  const spare = new Uint8Array(intoSmall.buffer).fill(0xff);
  for (const span of spans.slice(10)) encoder.append(span);
  const reused = encoder.take(spare);
  expect(reused.buffer).toBe(spare.buffer);
  expect(Buffer.from(reused)).toEqual(library(spans.slice(10)));
});

test("span times from the clock readings are the library's: spans sharing a millisecond, nanoseconds carrying into the high word, long spans, far dates", async () => {
  const t = await tracingToMemory(["gateway"]);
  const times: Array<[startMs: number, elapsedNs: number]> = [
    [1_765_000_000_123, 0],
    [1_765_000_000_123, 999_999], // the same millisecond again
    [1_765_000_000_123, 4_294_967_295],
    [1_765_000_000_124, 4_294_967_296],
    [1_765_000_000_124, 3_600_000_000_000], // an hour
    [0, 1],
    [1_048_575, 5],
    [1_048_576, 5],
    [4_102_444_800_000, 123_456_789], // 2100
    [8_640_000_000_000, 999_999_999_999],
  ];
  for (let i = 0; i < 40; i++) times.push([1_700_000_000_000 + Math.floor(Math.random() * 100_000_000_000), Math.floor(Math.random() * 2 ** 40)]);
  for (let i = 0; i < times.length; i++) startSpan(`span ${i}`, { role: "gateway" }).end();
  const spans = await t.spans();
  spans.forEach((span, i) => {
    const lean = span as LeanSpan;
    Object.defineProperty(lean, "startMs", { value: times[i]![0] });
    lean.elapsedNs = times[i]![1];
  });
  const encoder = new OtlpTraceEncoder();
  expect(Buffer.from(encoder.encode(spans))).toEqual(library(spans));
  // one by one too: each span's start millisecond differs from the last one's or repeats it
  for (const span of spans) expect(Buffer.from(encoder.encode([span]))).toEqual(library([span]));
});
