import { afterEach, describe, expect, test } from "bun:test";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { SpanKind } from "@opentelemetry/api";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOffSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { BatchConfig } from "../../../src/telemetry/config.ts";
import { EncodingBatchProcessor, type EncodedBatch, type EncodedBatchExporter } from "../../../src/telemetry/export.ts";
import { OtlpTraceEncoder } from "../../../src/telemetry/otlp-encoder.ts";
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
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) startSpan(`op ${i}`).end();
    const ms = performance.now() - t0;
    // 5 went out in a batch that never returns, 5 wait in the queue, 10 were dropped
    expect(exporter.batches.map((b) => b.length)).toEqual([5]);
    expect(await queued(metrics)).toBe(5);
    expect(await counter(metrics, "tracingSpansDropped")).toBe(10);
    expect(ms).toBeLessThan(50);
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

describe("the protobuf processor (spans encoded as they end)", () => {
  /** A collector for encoded batches that answers only when told to. */
  class StuckEncodedExporter implements EncodedBatchExporter {
    batches: EncodedBatch[] = [];
    /** Answers every batch at once with success instead. */
    answering = false;
    private pending: Array<(r: ExportResult) => void> = [];
    export(batch: EncodedBatch, done: (r: ExportResult) => void): void {
      this.batches.push(batch);
      if (this.answering) queueMicrotask(() => done({ code: ExportResultCode.SUCCESS }));
      else this.pending.push(done);
    }
    answerAll(code: ExportResultCode): void {
      for (const done of this.pending.splice(0)) done({ code, error: code === ExportResultCode.FAILED ? new Error("connection refused") : undefined });
    }
    async forceFlush(): Promise<void> {}
    async shutdown(): Promise<void> {}
  }
  const counts = () => {
    const c = { dropped: 0, exported: 0, failed: 0 };
    return { c, observer: { dropped: (n: number) => void (c.dropped += n), exported: (n: number) => void (c.exported += n), failed: (n: number) => void (c.failed += n) } };
  };
  const setup = (config: Partial<BatchConfig> = {}, sampler?: AlwaysOffSampler) => {
    const exporter = new StuckEncodedExporter();
    const { c, observer } = counts();
    const processor = new EncodingBatchProcessor(new OtlpTraceEncoder(), exporter, { maxQueueSize: 5, maxExportBatchSize: 5, scheduledDelayMillis: 60_000, exportTimeoutMillis: 1000, ...config }, observer);
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ "service.name": "task-service" }), sampler, spanProcessors: [processor, new SimpleSpanProcessor(memory)] });
    return { exporter, processor, c, memory, tracer: provider.getTracer("bpm", "1") };
  };

  test("what it sends is the library's request for the same spans", async () => {
    const { exporter, processor, c, memory, tracer } = setup({ maxQueueSize: 100, maxExportBatchSize: 3 });
    exporter.answering = true;
    for (let i = 0; i < 7; i++) tracer.startSpan(`op ${i}`, { kind: SpanKind.CLIENT, attributes: { "db.system.name": "sqlite", n: i } }).end();
    await processor.forceFlush();
    expect(c.exported).toBe(7);
    const spans = memory.getFinishedSpans();
    expect(exporter.batches.map((b) => b.length)).toEqual([3, 3, 1]);
    const library = (batch: ReadableSpan[]) => Buffer.from(ProtobufTraceSerializer.serializeRequest(batch as never)!);
    expect(exporter.batches.map((b) => Buffer.from(b.body))).toEqual([library(spans.slice(0, 3)), library(spans.slice(3, 6)), library(spans.slice(6))]);
  });

  test("with the collector stuck the queue stays bounded, the overflow is dropped and counted", () => {
    const { exporter, processor, c, tracer } = setup();
    for (let i = 0; i < 20; i++) tracer.startSpan(`op ${i}`).end();
    // 5 went out in a batch that never returns, 5 wait in the queue, 10 were dropped
    expect(exporter.batches.map((b) => b.length)).toEqual([5]);
    expect(processor.queueSize).toBe(5);
    expect(c.dropped).toBe(10);
  });

  test("a batch the collector never answers fails at the export timeout, and the queue moves on", async () => {
    const { exporter, c, tracer } = setup({ exportTimeoutMillis: 20 });
    for (let i = 0; i < 10; i++) tracer.startSpan(`op ${i}`).end();
    for (let i = 0; i < 100 && exporter.batches.length < 2; i++) await Bun.sleep(10);
    expect(exporter.batches.map((b) => b.length)).toEqual([5, 5]);
    expect(c.failed).toBeGreaterThanOrEqual(5);
  });

  test("failed and successful exports are counted; shutdown sends what is still queued", async () => {
    const { exporter, processor, c, tracer } = setup();
    for (let i = 0; i < 5; i++) tracer.startSpan(`op ${i}`).end();
    exporter.answerAll(ExportResultCode.FAILED);
    for (let i = 0; i < 3; i++) tracer.startSpan(`later ${i}`).end();
    expect(processor.queueSize).toBe(3);
    const stopped = processor.shutdown();
    await Bun.sleep(0);
    exporter.answerAll(ExportResultCode.SUCCESS);
    await stopped;
    expect(c).toEqual({ dropped: 0, exported: 3, failed: 5 });
    expect(exporter.batches.map((b) => b.length)).toEqual([5, 3]);
    // stopped: nothing more is taken
    tracer.startSpan("after").end();
    expect(processor.queueSize).toBe(0);
  });

  test("a partial batch goes out after the schedule delay", async () => {
    const { exporter, tracer } = setup({ scheduledDelayMillis: 20 });
    tracer.startSpan("alone").end();
    expect(exporter.batches).toEqual([]);
    for (let i = 0; i < 100 && exporter.batches.length === 0; i++) await Bun.sleep(10);
    expect(exporter.batches.map((b) => b.length)).toEqual([1]);
  });

  test("unsampled spans are neither encoded nor queued", () => {
    const { exporter, processor, c, tracer } = setup({}, new AlwaysOffSampler());
    for (let i = 0; i < 10; i++) tracer.startSpan(`op ${i}`).end();
    expect(processor.queueSize).toBe(0);
    expect(exporter.batches).toEqual([]);
    expect(c.dropped).toBe(0);
  });
});
