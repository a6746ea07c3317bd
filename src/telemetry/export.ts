import type { Context } from "@opentelemetry/api";
import { TraceFlags } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { BatchSpanProcessor, type ReadableSpan, type Span, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { BatchConfig } from "./config.ts";

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
