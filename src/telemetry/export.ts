import { context, ROOT_CONTEXT, TraceFlags, type Context } from "@opentelemetry/api";
import { ExportResultCode, suppressTracing, type ExportResult } from "@opentelemetry/core";
import { BatchSpanProcessor, type ReadableSpan, type Span, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { BatchConfig } from "./config.ts";
import type { OtlpTraceEncoder, QueuedSpan } from "./otlp-encoder.ts";

/** What the export path reports; wired to /metrics and the log by tracing.ts. */
export interface ExportObserver {
  dropped(count: number): void;
  exported(count: number): void;
  failed(count: number, error: Error | undefined): void;
}

/** Counts every batch the processor hands over, so the queue size is known without reading SDK internals. */
class CountingExporter implements SpanExporter {
  constructor(
    private readonly inner: SpanExporter,
    private readonly onTaken: (count: number) => void,
    private readonly observer: ExportObserver,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.onTaken(spans.length);
    this.inner.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.observer.exported(spans.length);
      else this.observer.failed(spans.length, result.error);
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * The SDK's BatchSpanProcessor behind a queue bound bpm can see: a span that would not
 * fit is dropped and counted here (the SDK would drop it too, but only log it), so a
 * slow or dead collector costs neither memory nor request latency — only spans.
 */
export class BoundedBatchProcessor implements SpanProcessor {
  private readonly inner: BatchSpanProcessor;
  private queuedSpans = 0;
  private stopped = false;

  constructor(
    exporter: SpanExporter,
    private readonly config: BatchConfig,
    private readonly observer: ExportObserver,
  ) {
    const counting = new CountingExporter(
      exporter,
      (n) => {
        this.queuedSpans = Math.max(0, this.queuedSpans - n);
      },
      observer,
    );
    this.inner = new BatchSpanProcessor(counting, { ...config });
  }

  get queueSize(): number {
    return this.queuedSpans;
  }

  onStart(_span: Span, _parent: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.stopped || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queuedSpans >= this.config.maxQueueSize) {
      this.observer.dropped(1);
      return;
    }
    this.queuedSpans++;
    this.inner.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  /** Exports what is queued (bounded by the export timeout), then stops accepting spans. */
  async shutdown(): Promise<void> {
    try {
      await this.inner.shutdown();
    } finally {
      this.stopped = true;
    }
  }
}

/** A batch of spans as the OTLP/HTTP request body; `length` is the span count (what the exporter's metrics count). */
export interface EncodedBatch {
  readonly body: Uint8Array;
  readonly length: number;
}

/** Sends encoded batches (the OTLP/HTTP delegate behind OTLPExporterBase<EncodedBatch>). */
export interface EncodedBatchExporter {
  export(batch: EncodedBatch, done: (result: ExportResult) => void): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * The batch span processor for OTLP protobuf: each span is encoded as it ends (while it is
 * still in cache, so the span object dies young) and only its bytes wait in the queue. Same
 * contract as BoundedBatchProcessor — OTEL_BSP_* settings, at most maxQueueSize spans queued
 * and the rest dropped and counted, a batch whenever maxExportBatchSize are queued or
 * scheduleDelayMillis after the first, everything exported on flush and shutdown — in O(1)
 * per span and without the SDK's per-batch span arrays.
 */
export class EncodingBatchProcessor implements SpanProcessor {
  private queue: QueuedSpan[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The one export under way (one at a time, as the SDK's processor: memory stays queue + one batch). */
  private exporting: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly encoder: OtlpTraceEncoder,
    private readonly exporter: EncodedBatchExporter,
    private readonly config: BatchConfig,
    private readonly observer: ExportObserver,
  ) {}

  get queueSize(): number {
    return this.queue.length;
  }

  onStart(_span: Span, _parent: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.stopped || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queue.length >= this.config.maxQueueSize) {
      this.observer.dropped(1);
      return;
    }
    this.queue.push({ resource: span.resource, instrumentationScope: span.instrumentationScope, bytes: this.encoder.encodeSpan(span) });
    this.schedule();
  }

  async forceFlush(): Promise<void> {
    while (this.exporting !== undefined || this.queue.length > 0) {
      if (this.exporting === undefined) this.exportBatch();
      await this.exporting;
    }
    await this.exporter.forceFlush();
  }

  /** Exports what is queued (bounded by the export timeout), then stops accepting spans. */
  async shutdown(): Promise<void> {
    try {
      await this.forceFlush();
    } finally {
      this.stopped = true;
      this.clearTimer();
      await this.exporter.shutdown();
    }
  }

  /** A full batch goes now; a partial one after the schedule delay; nothing while an export is under way. */
  private schedule(): void {
    if (this.exporting !== undefined || this.queue.length === 0) return;
    if (this.queue.length >= this.config.maxExportBatchSize) {
      this.exportBatch();
      return;
    }
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.exporting === undefined) this.exportBatch();
    }, this.config.scheduledDelayMillis);
    this.timer.unref?.();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Sends the oldest maxExportBatchSize spans; settles on the exporter's answer or the export timeout, whichever comes first. */
  private exportBatch(): void {
    this.clearTimer();
    const n = Math.min(this.queue.length, this.config.maxExportBatchSize);
    if (n === 0) return;
    const spans = n === this.queue.length ? this.queue : this.queue.slice(0, n);
    this.queue = n === this.queue.length ? [] : this.queue.slice(n);
    const body = this.encoder.encodeQueued(spans);
    const exporting = new Promise<void>((resolve) => {
      let settled = false;
      const done = (result: ExportResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        if (result.code === ExportResultCode.SUCCESS) this.observer.exported(n);
        else this.observer.failed(n, result.error);
        resolve();
      };
      const timeout = setTimeout(() => done({ code: ExportResultCode.FAILED, error: new Error("trace export timed out") }), this.config.exportTimeoutMillis);
      timeout.unref?.();
      try {
        // outside the request whose span filled the batch, and never traced itself (as the SDK's processor does)
        context.with(suppressTracing(ROOT_CONTEXT), () => this.exporter.export({ body, length: n }, done));
      } catch (err) {
        done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
      }
    });
    this.exporting = exporting;
    void exporting.then(() => {
      this.exporting = undefined;
      this.schedule();
    });
  }
}
