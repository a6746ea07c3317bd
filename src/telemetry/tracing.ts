import {
  context,
  INVALID_SPAN_CONTEXT,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
} from "@opentelemetry/api";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { EncodedTransport } from "./export.ts";
import type { Lifecycle } from "../platform/lifecycle.ts";
import { setTraceFieldsProvider, type Logger } from "../platform/logger.ts";
import { tracingConfigFromEnv, type TracingConfig } from "./config.ts";
import { AsyncLocalStorageContextManager, SpanFrame } from "./context.ts";
import { Metrics } from "./metrics.ts";
import { formatTraceparent } from "./propagation.ts";
import { ATTR_ERROR_TYPE } from "./semconv.ts";
import type { LeanSpan, LeanTracer } from "./span.ts";

/**
 * The one flag hot paths test. False unless an OTLP endpoint is configured: then no
 * provider exists, no context manager runs and every helper returns before allocating.
 */
export let tracingEnabled = false;

/** Returned by span helpers while tracing is off: non-recording, shared, free. */
export const NOOP_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

interface State {
  tracers: Map<string, LeanTracer>;
  defaultTracer: LeanTracer;
  processor: { forceFlush(): Promise<void>; shutdown(): Promise<void> };
  contextManager: AsyncLocalStorageContextManager;
}
let state: State | undefined;

export interface TracingOptions {
  /** One tracer provider per role, each with service.name = the role unless OTEL_SERVICE_NAME says otherwise. */
  roles: readonly string[];
  version: string;
  env?: Readonly<Record<string, string | undefined>>;
  log?: Logger;
  /** When given, SIGTERM flushes queued spans in the "close" phase. */
  lifecycle?: Lifecycle;
  /** The process's registry (main.ts builds it); tools and tests without one get a registry of their own. */
  metrics?: Metrics;
  /** Tests and tools: export here instead of OTLP/HTTP (the endpoint variable still switches tracing on). */
  exporter?: SpanExporter;
  /** Benchmarks: send OTLP protobuf batches here instead of OTLP/HTTP (spans are still encoded as they end). */
  transport?: EncodedTransport;
}

/**
 * Sets up tracing from OTEL_* variables; resolves to the decision. Rejects with
 * UsageError for values it cannot honour. Call once, before roles start (they decide
 * at start-up whether to instrument).
 */
export async function initTracing(opts: TracingOptions): Promise<TracingConfig> {
  if (state) throw new Error("tracing is already initialised");
  const cfg = tracingConfigFromEnv(opts.env ?? process.env);
  if (!cfg.enabled) return cfg;

  // the SDK and exporter load only now: with tracing off they cost not even start-up time
  const { startSdk } = await import("./sdk.ts");
  const { tracers, defaultTracer, processor } = startSdk(cfg, { ...opts, metrics: opts.metrics ?? new Metrics() });

  const contextManager = new AsyncLocalStorageContextManager();
  context.disable();
  context.setGlobalContextManager(contextManager);
  setTraceFieldsProvider(traceFields);
  state = { tracers, defaultTracer, processor, contextManager };
  tracingEnabled = true;
  opts.lifecycle?.onShutdown("close", "trace flush", () => shutdownTracing());
  return cfg;
}

/** Exports what is queued (bounded by the export timeout) and turns tracing off. */
export async function shutdownTracing(): Promise<void> {
  const s = state;
  if (!s) return;
  tracingEnabled = false;
  state = undefined;
  setTraceFieldsProvider(() => undefined);
  try {
    await s.processor.shutdown();
  } catch {
    // a batch that timed out is lost (and counted when its export fails); shutdown goes on
  } finally {
    context.disable();
    s.contextManager.disable();
  }
}

/** Exports what is queued now (tests, benchmarks). */
export async function flushTracing(): Promise<void> {
  await state?.processor.forceFlush();
}

/** The tracer of `role`, else of the span active in `ctx`, else of the first role in this process. */
export function tracerFor(role?: string, ctx: Context = context.active()): Tracer | undefined {
  const s = state;
  if (!s) return undefined;
  if (role !== undefined) {
    const t = s.tracers.get(role);
    if (t) return t;
  }
  // a recorded local span knows its tracer; a remote or non-recording one does not
  return (trace.getSpan(ctx) as Partial<LeanSpan> | undefined)?.tracer ?? s.defaultTracer;
}

export interface StartSpanOptions extends SpanOptions {
  /** The role this span belongs to; omit to inherit it from the active context. */
  role?: string;
  /** Parent context; default: the active one. */
  parent?: Context;
  /** `attributes` was made for this span alone: the span keeps that object instead of a copy. */
  freshAttributes?: boolean;
}

/** Starts a span (child of the active context unless `parent` says otherwise); NOOP_SPAN while tracing is off. */
export function startSpan(name: string, options: StartSpanOptions = {}): Span {
  if (!tracingEnabled) return NOOP_SPAN;
  const parent = options.parent ?? context.active();
  return (tracerFor(options.role, parent) as LeanTracer).startSpan(name, options, parent, options.freshAttributes === true);
}

/** Runs `fn` with `span` active, so logs, child spans and outgoing calls inside it belong to it. */
export function runInSpan<T>(span: Span, fn: () => T, base: Context = context.active()): T {
  if (!tracingEnabled || span === NOOP_SPAN) return fn();
  // straight to the AsyncLocalStorage (the API's context.with adds a lookup, a bind check and an argument spread per call),
  // in a frame rather than trace.setSpan's copy of the parent context
  return state!.contextManager.run(new SpanFrame(base, span), fn);
}

/** Marks a span failed: the exception as an event, status ERROR, error.type. */
export function failSpan(span: Span, error: unknown, errorType?: string): void {
  if (!span.isRecording()) return;
  const e = error instanceof Error ? error : undefined;
  if (e) span.recordException(e);
  span.setAttribute(ATTR_ERROR_TYPE, errorType ?? errorTypeOf(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: e?.message ?? (typeof error === "string" ? error : undefined) });
}

/** A low-cardinality name for what went wrong: the error's code, else its class. */
export function errorTypeOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === "string" && code.length > 0) return code;
  if (error instanceof Error) return error.name || "Error";
  return "_OTHER";
}

/** Ends a span, failed when `error` is given. */
export function endSpan(span: Span, error?: unknown): void {
  if (span === NOOP_SPAN) return;
  if (error !== undefined) failSpan(span, error);
  span.end();
}

/**
 * Runs `fn` in a new span that ends when `fn` returns or settles; a throw or rejection
 * marks it failed and is re-thrown. Off: just `fn()`.
 */
export function withSpan<T>(name: string, options: StartSpanOptions, fn: (span: Span) => T): T {
  if (!tracingEnabled) return fn(NOOP_SPAN);
  const span = startSpan(name, options);
  return runUntilSettled(span, options.parent, () => fn(span));
}

/**
 * Runs `fn` in `span` and ends the span when `fn` returns or its promise settles; a
 * throw or rejection marks it failed and is re-thrown. `takeOver` may claim a
 * result whose end comes later (a stream): it then ends the span itself.
 */
export function runUntilSettled<T>(span: Span, parent: Context | undefined, fn: () => T, takeOver?: (result: T) => T | undefined): T {
  let result: T;
  try {
    result = runInSpan(span, fn, parent);
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => {
        span.end();
        return v;
      },
      (err) => {
        endSpan(span, err);
        throw err;
      },
    ) as T;
  }
  const claimed = takeOver?.(result);
  if (claimed !== undefined) return claimed;
  span.end();
  return result;
}

/** The active span, if tracing is on and one is active. */
export function activeSpan(): Span | undefined {
  if (!tracingEnabled) return undefined;
  return trace.getSpan(context.active());
}

/**
 * Adds an event to the active span ("breaker.rejected", "retry", "rate_limit.rejected"…).
 * Off, or outside any span: nothing.
 */
export function recordEvent(name: string, attributes?: Attributes): void {
  if (!tracingEnabled) return;
  const span = trace.getSpan(context.active());
  if (span?.isRecording()) span.addEvent(name, attributes);
}

/** trace_id/span_id for log lines (installed into the logger while tracing is on). */
export function traceFields(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getSpan(context.active());
  if (!span) return undefined;
  const sc = span.spanContext();
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

/** The active span as a traceparent string, e.g. to store beside an outbox record and link to later. */
export function currentTraceparent(): string | undefined {
  if (!tracingEnabled) return undefined;
  const span = trace.getSpan(context.active());
  return span ? formatTraceparent(span.spanContext()) : undefined;
}
