import { afterEach, describe, expect, test } from "bun:test";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
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
