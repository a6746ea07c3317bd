import { afterEach, describe, expect, test } from "bun:test";
import { ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOnSampler, RandomIdGenerator, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { spanLimitsFromEnv, type BatchConfig } from "../../../src/telemetry/config.ts";
import { BoundedBatchProcessor, EncodingSink, SpanListSink, type BatchSink } from "../../../src/telemetry/export.ts";
import { OtlpTraceEncoder } from "../../../src/telemetry/otlp-encoder.ts";
import { LeanTracer } from "../../../src/telemetry/span.ts";
import { Metrics } from "../../../src/telemetry/metrics.ts";
import { initTracing, shutdownTracing, startSpan } from "../../../src/telemetry/tracing.ts";

/** A collector that takes batches and answers only when told to (or never). */
class StuckExporter implements SpanExporter {
  batches: ReadableSpan[][] = [];
  private pending: Array<(r: ExportResult) => void> = [];
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.batches.push(spans);
    this.pending.push(done);
  }
  answerAll(code: ExportResultCode): void {
    for (const done of this.pending.splice(0)) done({ code, error: code === ExportResultCode.FAILED ? new Error("connection refused") : undefined });
  }
  async shutdown(): Promise<void> {}
}

async function counter(metrics: Metrics, name: "tracingSpansDropped" | "tracingSpansExported" | "tracingSpansExportFailed"): Promise<number> {
  return (await metrics[name].get()).values[0]?.value ?? 0;
}

async function queued(metrics: Metrics): Promise<number> {
  return (await metrics.tracingQueueSize.get()).values[0]?.value ?? -1;
}

async function start(exporter: SpanExporter, env: Record<string, string> = {}) {
  const metrics = new Metrics();
  await initTracing({
    roles: ["gateway"],
    version: "1",
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", OTEL_BSP_MAX_QUEUE_SIZE: "5", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "5", OTEL_BSP_SCHEDULE_DELAY: "60000", ...env },
    exporter,
    metrics,
  });
  return metrics;
}

afterEach(() => shutdownTracing());

describe("export never holds requests hostage", () => {
  test("with the collector stuck, the queue stays bounded and the overflow is counted on /metrics", async () => {
    const exporter = new StuckExporter();
    const metrics = await start(exporter, { OTEL_BSP_EXPORT_TIMEOUT: "100" });
    // ending spans is synchronous: nothing here can wait on the stuck collector
    for (let i = 0; i < 20; i++) startSpan(`op ${i}`).end();
    // 5 went out in a batch that never returns, 5 wait in the queue, 10 were dropped
    expect(exporter.batches.map((b) => b.length)).toEqual([5]);
    expect(await queued(metrics)).toBe(5);
    expect(await counter(metrics, "tracingSpansDropped")).toBe(10);
    await expect(metrics.registry.getSingleMetricAsString("bpm_tracing_spans_dropped_total")).resolves.toContain("bpm_tracing_spans_dropped_total 10");
  });

  test("failed exports are counted, successful ones too", async () => {
    const exporter = new StuckExporter();
    const metrics = await start(exporter);
    for (let i = 0; i < 5; i++) startSpan("a").end();
    exporter.answerAll(ExportResultCode.FAILED);
    await Bun.sleep(0);
    for (let i = 0; i < 5; i++) startSpan("b").end();
    exporter.answerAll(ExportResultCode.SUCCESS);
    await Bun.sleep(0);
    expect(await counter(metrics, "tracingSpansExportFailed")).toBe(5);
    expect(await counter(metrics, "tracingSpansExported")).toBe(5);
  });

  test("shutdown (SIGTERM's close phase) exports what is still queued", async () => {
    const exporter = new StuckExporter();
    await start(exporter, { OTEL_BSP_MAX_QUEUE_SIZE: "100", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "100" });
    for (let i = 0; i < 3; i++) startSpan("late").end();
    expect(exporter.batches).toEqual([]);
    const done = shutdownTracing();
    await Bun.sleep(0);
    exporter.answerAll(ExportResultCode.SUCCESS);
    await done;
    expect(exporter.batches.map((b) => b.map((s) => s.name))).toEqual([["late", "late", "late"]]);
  });

  test("unsampled spans are neither queued nor counted", async () => {
    const exporter = new StuckExporter();
    const metrics = await start(exporter, { OTEL_TRACES_SAMPLER: "always_off" });
    for (let i = 0; i < 50; i++) startSpan("x").end();
    expect(exporter.batches).toEqual([]);
    expect(await queued(metrics)).toBe(0);
    expect(await counter(metrics, "tracingSpansDropped")).toBe(0);
  });
});

/** A collector either sink kind sends to: takes batches and answers when told to, or at once from `answering` on. */
interface Collector {
  /** Spans per batch received, in order. */
  counts: number[];
  answerAll(code: ExportResultCode): void;
  answering: ExportResultCode | undefined;
}

/** The batch processor over each sink bpm uses, fed by a LeanTracer per role; `ended` is every span handed to it, in order. */
function batching(kind: "span objects" | "encoded as spans end", config: Partial<BatchConfig> = {}) {
  /** `bytes`: what the collector read on arrival; `sent`: the sink's own buffer, which it may write again once answered. */
  type Received = { count: number; bytes?: Uint8Array; sent?: Uint8Array; done: (r: ExportResult) => void; answered: boolean };
  const batches: Received[] = [];
  const answer = (b: Received, code: ExportResultCode) => {
    if (b.answered) return;
    b.answered = true;
    b.done({ code, error: code === ExportResultCode.FAILED ? new Error("connection refused") : undefined });
  };
  const receive = (b: Received) => {
    batches.push(b);
    if (collector.answering !== undefined) answer(b, collector.answering);
  };
  let shutdowns = 0;
  const sink: BatchSink<unknown> =
    kind === "span objects"
      ? new SpanListSink({ export: (spans, done) => receive({ count: spans.length, done, answered: false }), shutdown: async () => void shutdowns++ })
      : new EncodingSink(new OtlpTraceEncoder(), { export: (b, done) => receive({ count: b.count, bytes: b.bytes.slice(), sent: b.bytes, done, answered: false }), shutdown: async () => void shutdowns++ });
  const seen = { dropped: 0, exported: 0, failed: 0 };
  const processor = new BoundedBatchProcessor(
    sink,
    { maxQueueSize: 5, maxExportBatchSize: 5, scheduledDelayMillis: 60_000, exportTimeoutMillis: 60_000, ...config },
    { dropped: (n) => (seen.dropped += n), exported: (n) => (seen.exported += n), failed: (n) => (seen.failed += n) },
  );
  const ended: ReadableSpan[] = [];
  const tee = {
    onStart: () => {},
    onEnd: (span: ReadableSpan) => {
      ended.push(span);
      processor.onEnd(span);
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const tracer = (role: string) => new LeanTracer(resourceFromAttributes({ "service.name": role }), { name: "bpm", version: "1" }, new AlwaysOnSampler(), tee, new RandomIdGenerator(), spanLimitsFromEnv({}));
  const collector: Collector = {
    get counts() {
      return batches.map((b) => b.count);
    },
    answerAll: (code) => batches.forEach((b) => answer(b, code)),
    answering: undefined,
  };
  return { processor, tracer, ended, batches, collector, seen, shutdowns: () => shutdowns };
}

async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !check(); i++) await Bun.sleep(1);
  expect(check()).toBe(true);
}

for (const kind of ["span objects", "encoded as spans end"] as const) {
  describe(`the batch processor, ${kind}`, () => {
    test("a stuck collector: one batch out, the queue bounded, the overflow dropped and counted", () => {
      const b = batching(kind);
      const t = b.tracer("gateway");
      for (let i = 0; i < 20; i++) t.startSpan(`op ${i}`).end();
      expect(b.collector.counts).toEqual([5]);
      expect(b.processor.queueSize).toBe(5);
      expect(b.seen.dropped).toBe(10);
    });

    test("successes and failures are counted when the collector answers; the next batch follows", async () => {
      const b = batching(kind);
      const t = b.tracer("gateway");
      for (let i = 0; i < 10; i++) t.startSpan("x").end();
      expect(b.collector.counts).toEqual([5]);
      b.collector.answerAll(ExportResultCode.FAILED);
      expect(b.collector.counts).toEqual([5, 5]);
      b.collector.answerAll(ExportResultCode.SUCCESS);
      expect(b.seen).toEqual({ dropped: 0, exported: 5, failed: 5 });
      expect(b.processor.queueSize).toBe(0);
    });

    test("a batch that outlives the export timeout lets the next go; its late answer still counts", async () => {
      const b = batching(kind, { exportTimeoutMillis: 5 });
      const t = b.tracer("gateway");
      for (let i = 0; i < 10; i++) t.startSpan("x").end();
      await eventually(() => b.collector.counts.length === 2);
      b.collector.answerAll(ExportResultCode.SUCCESS);
      expect(b.seen.exported).toBe(10);
    });

    test("a batch that is not full leaves after the scheduled delay", async () => {
      const b = batching(kind, { scheduledDelayMillis: 5 });
      b.tracer("gateway").startSpan("alone").end();
      expect(b.collector.counts).toEqual([]);
      await eventually(() => b.collector.counts.length === 1);
      expect(b.collector.counts).toEqual([1]);
    });

    test("forceFlush and shutdown export everything queued in batches of at most the batch size; later spans are ignored", async () => {
      const b = batching(kind, { maxQueueSize: 100 });
      const t = b.tracer("gateway");
      for (let i = 0; i < 12; i++) t.startSpan("x").end();
      expect(b.collector.counts).toEqual([5]);
      const flushed = b.processor.forceFlush();
      b.collector.answering = ExportResultCode.SUCCESS;
      b.collector.answerAll(ExportResultCode.SUCCESS);
      await flushed;
      expect(b.collector.counts).toEqual([5, 5, 2]);
      b.collector.answering = undefined;
      for (let i = 0; i < 3; i++) t.startSpan("late").end();
      const down = b.processor.shutdown();
      await Bun.sleep(0);
      b.collector.answerAll(ExportResultCode.SUCCESS);
      await down;
      expect(b.collector.counts).toEqual([5, 5, 2, 3]);
      expect(b.shutdowns()).toBe(1);
      t.startSpan("after shutdown").end();
      expect(b.processor.queueSize).toBe(0);
      expect(b.seen.exported).toBe(15);
    });
  });
}

test("spans encoded as they end make the library's protobuf of each batch: end order, roles grouped as the library groups them", async () => {
  const b = batching("encoded as spans end", { maxQueueSize: 100, maxExportBatchSize: 7 });
  const gateway = b.tracer("gateway");
  const service = b.tracer("task-service");
  for (let i = 0; i < 10; i++) {
    const server = gateway.startSpan(`GET /api/tasks/:id`, { kind: SpanKind.SERVER, attributes: { "http.request.method": "GET", "url.path": `/api/tasks/${i}` } });
    const child = service.startSpan("SELECT tasks", { kind: SpanKind.CLIENT, attributes: { "db.system.name": "sqlite" } }, trace.setSpan(ROOT_CONTEXT, server));
    child.addEvent("retry", { "retry.attempt": 1 });
    child.end();
    server.setAttribute("http.response.status_code", 200).end();
  }
  b.collector.answering = ExportResultCode.SUCCESS;
  b.collector.answerAll(ExportResultCode.SUCCESS);
  await b.processor.forceFlush();
  expect(b.collector.counts).toEqual([7, 7, 6]);
  let from = 0;
  for (const batch of b.batches) {
    const spans = b.ended.slice(from, (from += batch.count));
    expect(Buffer.from(batch.bytes!)).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans as never)!));
  }
});

test("a batch's buffer is written again only once the collector has answered it: the next batch goes into it, not into a new one", async () => {
  const b = batching("encoded as spans end", { maxQueueSize: 100, maxExportBatchSize: 3 });
  const t = b.tracer("gateway");
  const batchOfThree = (n: number) => {
    for (let i = 0; i < 3; i++) t.startSpan(`GET /api/tasks/:id`, { kind: SpanKind.SERVER, attributes: { "url.path": `/api/tasks/${n}${i}` } }).end();
  };
  batchOfThree(1); // sent, not answered
  batchOfThree(2); // sealed while the first is out: its own buffer
  expect(b.collector.counts).toEqual([3]);
  const [first] = b.batches;
  b.collector.answerAll(ExportResultCode.SUCCESS);
  expect(b.collector.counts).toEqual([3, 3]);
  const second = b.batches[1]!;
  expect(second.sent!.buffer).not.toBe(first!.sent!.buffer);
  batchOfThree(3); // the second is still out: written into the first's buffer
  expect(b.collector.counts).toEqual([3, 3]);
  b.collector.answering = ExportResultCode.SUCCESS;
  b.collector.answerAll(ExportResultCode.SUCCESS);
  await b.processor.forceFlush();
  const third = b.batches[2]!;
  expect(third.sent!.buffer).toBe(first!.sent!.buffer);
  // what was out while the third was written is untouched, and every batch is the library's bytes
  expect(Buffer.from(second.sent!)).toEqual(Buffer.from(second.bytes!));
  let from = 0;
  for (const batch of b.batches) {
    const spans = b.ended.slice(from, (from += batch.count));
    expect(Buffer.from(batch.bytes!)).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans as never)!));
  }
});

test("a span that cannot be encoded is counted as failed, not thrown at the request, and leaves its batch intact", async () => {
  const b = batching("encoded as spans end", { maxQueueSize: 100, maxExportBatchSize: 100 });
  const t = b.tracer("gateway");
  const broken = t.startSpan("broken", { attributes: { "http.request.method": "GET" } }) as unknown as ReadableSpan;
  // fails after its ids, name, times and attributes are written, as the first span of its batch
  const failing = Object.create(broken, { events: { get: () => { throw new Error("unencodable"); } } }) as ReadableSpan;
  expect(() => b.processor.onEnd(failing)).not.toThrow();
  t.startSpan("good", { attributes: { "http.request.method": "GET" } }).end();
  t.startSpan("after").end();
  b.collector.answering = ExportResultCode.SUCCESS;
  await b.processor.forceFlush();
  expect(b.seen).toEqual({ dropped: 0, exported: 2, failed: 1 });
  const sent = b.ended.filter((s) => s.name !== "broken");
  expect(b.collector.counts).toEqual([2]);
  expect(Buffer.from(b.batches[0]!.bytes!)).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest(sent as never)!));
});
