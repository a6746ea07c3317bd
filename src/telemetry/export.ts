import { context, TraceFlags, type Context } from "@opentelemetry/api";
import { ExportResultCode, suppressTracing, type ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { BatchConfig } from "./config.ts";
import type { OtlpTraceEncoder } from "./otlp-encoder.ts";

/** What the export path reports; wired to /metrics and the log by tracing.ts. */
export interface ExportObserver {
  dropped(count: number): void;
  exported(count: number): void;
  failed(count: number, error: Error | undefined): void;
}

/**
 * How ended spans become batches and leave: spans are added one by one, a batch is sealed
 * when full or due, and exported while later spans keep coming.
 */
export interface BatchSink<B> {
  add(span: ReadableSpan): void;
  /** Everything added since the last seal, as one batch. */
  seal(): B;
  export(batch: B, count: number, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

/** Spans kept as objects for a SpanExporter (OTLP JSON, tests' in-memory exporters). */
export class SpanListSink implements BatchSink<ReadableSpan[]> {
  private open: ReadableSpan[] = [];

  constructor(private readonly exporter: SpanExporter) {}

  add(span: ReadableSpan): void {
    this.open.push(span);
  }

  seal(): ReadableSpan[] {
    const batch = this.open;
    this.open = [];
    return batch;
  }

  export(batch: ReadableSpan[], _count: number, done: (result: ExportResult) => void): void {
    this.exporter.export(batch, done);
  }

  shutdown(): Promise<void> {
    return this.exporter.shutdown();
  }
}

/** Sends one encoded ExportTraceServiceRequest (OTLP/HTTP: headers, timeout, retries). */
export interface EncodedTransport {
  export(batch: EncodedBatch, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

export interface EncodedBatch {
  bytes: Uint8Array;
  count: number;
}

/**
 * OTLP protobuf written as each span ends: the span object dies young (a queued span lives
 * until its batch leaves, long enough to be promoted and collected as old), and it is walked
 * once, while still in cache. A batch is the request's bytes.
 */
export class EncodingSink implements BatchSink<EncodedBatch> {
  /** The buffer of the last batch the transport is done with: the next batch is written into it. */
  private spare: Uint8Array | undefined;

  constructor(
    private readonly encoder: OtlpTraceEncoder,
    private readonly transport: EncodedTransport,
  ) {}

  add(span: ReadableSpan): void {
    this.encoder.append(span);
  }

  seal(): EncodedBatch {
    const count = this.encoder.pending;
    const bytes = this.encoder.take(this.spare);
    this.spare = undefined;
    return { bytes, count };
  }

  export(batch: EncodedBatch, _count: number, done: (result: ExportResult) => void): void {
    this.transport.export(batch, (result) => {
      // answered (sent, or given up on): nothing reads the bytes any more
      this.spare = new Uint8Array(batch.bytes.buffer);
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.transport.shutdown();
  }
}

/**
 * The SDK BatchSpanProcessor's rules (OTEL_BSP_*: queue bound, batch size, schedule delay,
 * export timeout, one export at a time, flush on forceFlush and shutdown) over a BatchSink, with
 * a queue bound bpm can see: a span that would not fit is dropped and counted, so a slow or dead
 * collector costs neither memory nor request latency — only spans. Its own rather than the SDK's
 * because the SDK's queues span objects, and the sink may encode them as they end.
 */
export class BoundedBatchProcessor<B> implements SpanProcessor {
  /** Spans added to the sink since the last seal. */
  private openCount = 0;
  private readonly sealed: Array<{ batch: B; count: number }> = [];
  private sealedCount = 0;
  private exporting = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private shutdownOnce: Promise<void> | undefined;
  private idle: Array<() => void> = [];
  private readonly maxExportBatchSize: number;

  constructor(
    private readonly sink: BatchSink<B>,
    private readonly config: BatchConfig,
    private readonly observer: ExportObserver,
  ) {
    this.maxExportBatchSize = Math.min(config.maxExportBatchSize, config.maxQueueSize);
  }

  /** Spans ended and not yet handed to the exporter. */
  get queueSize(): number {
    return this.openCount + this.sealedCount;
  }

  onStart(_span: Span, _parent: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.stopped || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.openCount + this.sealedCount >= this.config.maxQueueSize) {
      this.observer.dropped(1);
      return;
    }
    try {
      this.sink.add(span);
    } catch (err) {
      // a span that cannot be encoded is lost and counted, never thrown at the request that ended it
      this.observer.failed(1, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (++this.openCount >= this.maxExportBatchSize) {
      this.seal();
      this.pump();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(this.due, this.config.scheduledDelayMillis);
      this.timer.unref?.();
    }
  }

  /** Exports everything queued now; resolves when it has left (or timed out). */
  forceFlush(): Promise<void> {
    this.seal();
    this.pump();
    return this.whenIdle();
  }

  /** Exports what is queued (each batch bounded by the export timeout), then stops accepting spans. */
  shutdown(): Promise<void> {
    this.shutdownOnce ??= (async () => {
      this.stopped = true;
      await this.forceFlush();
      await this.sink.shutdown();
    })();
    return this.shutdownOnce;
  }

  private readonly due = (): void => {
    this.timer = undefined;
    this.seal();
    this.pump();
  };

  private seal(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.openCount === 0) return;
    this.sealed.push({ batch: this.sink.seal(), count: this.openCount });
    this.sealedCount += this.openCount;
    this.openCount = 0;
  }

  /** Starts the next sealed batch unless one is being exported; the export's end starts the one after. */
  private pump(): void {
    if (this.exporting) return;
    const next = this.sealed.shift();
    if (!next) {
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    this.sealedCount -= next.count;
    this.exporting = true;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timeout);
      this.exporting = false;
      this.pump();
    };
    // past the timeout the next batch goes; this one is still counted when it answers
    const timeout = setTimeout(finish, this.config.exportTimeoutMillis);
    timeout.unref?.();
    let answered = false;
    const done = (result: ExportResult) => {
      if (answered) return;
      answered = true;
      if (result.code === ExportResultCode.SUCCESS) this.observer.exported(next.count);
      else this.observer.failed(next.count, result.error);
      finish();
    };
    try {
      // the exporter's own I/O makes no spans
      context.with(suppressTracing(context.active()), () => this.sink.export(next.batch, next.count, done));
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }

  private whenIdle(): Promise<void> {
    if (!this.exporting && this.sealed.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }
}
