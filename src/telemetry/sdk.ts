import { hostname } from "node:os";
import { OTLPTraceExporter as OTLPJsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { createOtlpNetworkExportDelegate, OTLPExporterBase } from "@opentelemetry/otlp-exporter-base";
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate, createOtlpHttpExporterMetrics } from "@opentelemetry/otlp-exporter-base/node-http";
import { ProtobufTraceSerializer, TraceExporterMetricsHelper } from "@opentelemetry/otlp-transformer";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, RandomIdGenerator, TraceIdRatioBasedSampler, type Sampler, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Logger } from "../platform/logger.ts";
import type { SamplerConfig, TracingConfig } from "./config.ts";
import { BoundedBatchProcessor, EncodingSink, SpanListSink, type BatchSink, type EncodedBatch, type EncodedTransport } from "./export.ts";
import { OtlpTraceEncoder } from "./otlp-encoder.ts";
import { FetchOtlpTransport, RetryingTransport } from "./otlp-http.ts";
import { LeanTracer } from "./span.ts";
import type { Metrics } from "./metrics.ts";
import { ATTR_ROLE, ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "./semconv.ts";

// The OpenTelemetry SDK side of tracing, imported by initTracing only when tracing is on.

export interface SdkOptions {
  roles: readonly string[];
  version: string;
  metrics: Metrics;
  log?: Logger;
  exporter?: SpanExporter;
  transport?: EncodedTransport;
}

/**
 * One tracer per role (own resource, so own service.name) over the SDK's sampler, one bounded
 * batch queue and one OTLP/HTTP exporter. The tracers are bpm's LeanTracer: the SDK's
 * BasicTracerProvider would make the same spans at several times the allocations each.
 */
export function startSdk(cfg: Extract<TracingConfig, { enabled: true }>, opts: SdkOptions): { tracers: Map<string, LeanTracer>; defaultTracer: LeanTracer; processor: BoundedBatchProcessor<unknown> } {
  const metrics = opts.metrics;
  const log = opts.log;
  let lastWarn = 0;
  const warn = (msg: string, fields: Record<string, unknown>) => {
    // a dead collector fails every batch; one line per 30 s says so without flooding the log
    const now = Date.now();
    if (!log || now - lastWarn < 30_000) return;
    lastWarn = now;
    log.warn(msg, fields);
  };
  const exporterConfig = { url: cfg.tracesUrl, timeoutMillis: cfg.batch.exportTimeoutMillis };
  // protobuf: each span encoded as it ends (bytes queue, not span objects); JSON and tests' exporters take span objects
  const sink: BatchSink<unknown> = opts.exporter
    ? new SpanListSink(opts.exporter)
    : cfg.protocol === "http/json"
      ? new SpanListSink(new OTLPJsonTraceExporter(exporterConfig) as unknown as SpanExporter)
      : new EncodingSink(new OtlpTraceEncoder(), opts.transport ?? otlpProtobufTransport(exporterConfig));
  const processor = new BoundedBatchProcessor(sink, cfg.batch, {
    dropped: (n) => {
      metrics.tracingSpansDropped.inc(n);
      warn("trace spans dropped: export queue full", { queue_size: cfg.batch.maxQueueSize, endpoint: cfg.tracesUrl });
    },
    exported: (n) => metrics.tracingSpansExported.inc(n),
    failed: (n, err) => {
      metrics.tracingSpansExportFailed.inc(n);
      warn("trace export failed", { spans: n, endpoint: cfg.tracesUrl, err: err ? { message: err.message } : undefined });
    },
  });
  metrics.traceQueueSize(() => processor.queueSize);

  const sampler = buildSampler(cfg.sampler);
  const instanceId = crypto.randomUUID();
  const ids = new RandomIdGenerator();
  const scope = { name: "bpm", version: opts.version };
  const tracers = new Map<string, LeanTracer>();
  for (const role of opts.roles) {
    const resource = resourceFromAttributes({
      ...cfg.resourceAttributes,
      [ATTR_SERVICE_NAME]: cfg.serviceName ?? cfg.resourceAttributes[ATTR_SERVICE_NAME] ?? role,
      [ATTR_SERVICE_VERSION]: opts.version,
      [ATTR_SERVICE_INSTANCE_ID]: instanceId,
      [ATTR_ROLE]: role,
      "host.name": hostname(),
      "process.pid": process.pid,
      "process.runtime.name": "bun",
      "process.runtime.version": Bun.version,
    });
    // every tracer feeds the one bounded queue: one exporter, one memory bound per process
    tracers.set(role, new LeanTracer(resource, scope, sampler, processor, ids, cfg.spanLimits, cfg.sampler));
  }
  const defaultTracer = tracers.get(opts.roles[0] ?? "") ?? new LeanTracer(defaultResource(), scope, sampler, processor, ids, cfg.spanLimits, cfg.sampler);

  return { tracers, defaultTracer, processor };
}

export function buildSampler(cfg: SamplerConfig): Sampler {
  switch (cfg.name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(cfg.ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.ratio) });
  }
}

/**
 * OTLP/HTTP protobuf: the library's export delegate (headers from OTEL_EXPORTER_OTLP_HEADERS,
 * timeout, bounded concurrency) sending requests bpm's encoder has already written, the same
 * bytes as the library's serializer at a fraction of the CPU; to a plain-http collector through
 * fetch with the library's retry rules (otlp-http.ts), to https through the library's transport.
 */
export function otlpProtobufTransport(config: { url: string; timeoutMillis: number }): EncodedTransport {
  const serializer = {
    serializeRequest: (batch: EncodedBatch) => batch.bytes,
    deserializeResponse: (data: Uint8Array) => ProtobufTraceSerializer.deserializeResponse(data),
  };
  const options = convertLegacyHttpOptions(config, "TRACES", "v1/traces", { "Content-Type": "application/x-protobuf" });
  const spans = { ...TraceExporterMetricsHelper, countItems: (batch: EncodedBatch) => batch.count };
  if (new URL(options.url).protocol !== "http:") return new OTLPExporterBase(createOtlpHttpExportDelegate(options, serializer, "otlp_http_span_exporter", spans, undefined));
  const metrics = createOtlpHttpExporterMetrics("otlp_http_span_exporter", spans, options.url, undefined);
  return new OTLPExporterBase(createOtlpNetworkExportDelegate(options, serializer, metrics, new RetryingTransport(new FetchOtlpTransport(options))));
}
