import {
  context as api,
  diag,
  INVALID_SPAN_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
} from "@opentelemetry/api";
import { isAttributeValue, isTracingSuppressed, millisToHrTime, timeInputToHrTime, type InstrumentationScope } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import { SamplingDecision, type IdGenerator, type ReadableSpan, type Sampler, type SpanProcessor, type TimedEvent } from "@opentelemetry/sdk-trace-base";
import type { SamplerConfig, SpanLimitsConfig } from "./config.ts";

/** The SDK's span limits, all set (OTEL_SPAN_* variables, read in config.ts). */
export type SpanLimits = Readonly<SpanLimitsConfig>;

const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
const NOT_ENDED: HrTime = Object.freeze([0, 0]) as unknown as HrTime;
/** Shared by every span without events or links until it gets one (most spans never do). */
const NONE = Object.freeze([]) as unknown as never[];
/** Shared by every span until its first attribute: a span given its attributes at start takes that object instead. */
const NO_ATTRIBUTES: Attributes = Object.freeze({});

/**
 * A tracer of the SDK's behaviour over its sampler, id generator and span processor, making
 * LeanSpans: per span one object with the fields the exporter reads, instead of the SDK
 * span's copies of the attributes, hrtime tuples, metrics closures and empty arrays.
 */
export class LeanTracer implements Tracer {
  constructor(
    readonly resource: Resource,
    readonly instrumentationScope: InstrumentationScope,
    private readonly sampler: Sampler,
    private readonly processor: SpanProcessor,
    private readonly ids: IdGenerator,
    readonly limits: SpanLimits,
    /** What `sampler` is, so a span that will not be recorded can be told before its name and attributes are made (preSample). */
    private readonly samplerConfig?: SamplerConfig,
  ) {}

  /**
   * The sampling decision before the span: the non-recording span a span started under `ctx`
   * now would be, made without name, attributes or (under a sampled-out parent) new ids; else
   * the trace id a new root must take (the ratio decided on it) or undefined: then call startSpan.
   * bpm's samplers (the spec's built-in ones) decide on the parent's sampled flag and the trace
   * id only, which is what makes this exact.
   *
   * Under a sampled-out parent the parent's span itself comes back: its trace id, span id and
   * flags travel on unchanged (W3C Trace Context lets a participant that records nothing forward
   * traceparent as it came), so a sampled-out chain makes no ids and no objects per hop.
   */
  preSample(ctx: Context): Span | string | undefined {
    const cfg = this.samplerConfig;
    if (cfg === undefined) return undefined;
    if (isTracingSuppressed(ctx)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const parentSpan = trace.getSpan(ctx);
    const parent = parentSpan?.spanContext();
    const valid = parent !== undefined && (parentSpan instanceof LeanSpan || trace.isSpanContextValid(parent));
    const parentBased = cfg.name.startsWith("parentbased_");
    if (valid && (parentBased || cfg.name === "always_off")) {
      // ParentBasedSampler's defaults: a sampled parent's child is sampled, an unsampled one's is not
      if (((parent.traceFlags & TraceFlags.SAMPLED) === 0 || cfg.name === "always_off") && !parentSpan!.isRecording()) return parentSpan as Span;
      return undefined;
    }
    if (cfg.name === "always_on" || cfg.name === "parentbased_always_on") return undefined;
    const traceId = valid ? parent.traceId : this.ids.generateTraceId();
    const decision = cfg.name === "always_off" || cfg.name === "parentbased_always_off" ? SamplingDecision.NOT_RECORD : this.sampler.shouldSample(ctx, traceId, "", SpanKind.INTERNAL, NO_ATTRIBUTES, NONE).decision;
    if (decision === SamplingDecision.RECORD_AND_SAMPLED) return valid ? undefined : traceId;
    return trace.wrapSpanContext({ traceId, spanId: this.ids.generateSpanId(), traceFlags: TraceFlags.NONE, traceState: valid ? parent.traceState : undefined });
  }

  /** `fresh`: options.attributes was made for this span and nothing else keeps it, so the span may take it as its own instead of a copy. */
  startSpan(name: string, options: SpanOptions = {}, ctx: Context = api.active(), fresh = false, rootTraceId?: string): Span {
    if (options.root) ctx = trace.deleteSpan(ctx);
    if (isTracingSuppressed(ctx)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const parentSpan = trace.getSpan(ctx);
    // a local LeanSpan is valid by construction; anything else (remote, foreign) is checked as the SDK does
    const parent = parentSpan?.spanContext();
    const validParent = parent && (parentSpan instanceof LeanSpan || trace.isSpanContextValid(parent)) ? parent : undefined;
    const traceId = validParent ? validParent.traceId : (rootTraceId ?? this.ids.generateTraceId());
    const spanId = this.ids.generateSpanId();
    const kind = options.kind ?? SpanKind.INTERNAL;
    const attributes = options.attributes ?? {};
    const links = options.links ?? NONE;
    const sampled = this.sampler.shouldSample(ctx, traceId, name, kind, attributes, links);
    const traceFlags = sampled.decision === SamplingDecision.RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE;
    const traceState = sampled.traceState ?? validParent?.traceState;
    if (sampled.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext({ traceId, spanId, traceFlags, traceState });
    const span = new LeanSpan(this, traceId, spanId, traceFlags, traceState, validParent, name, kind, options.startTime);
    if (fresh) span.adoptAttributes(attributes);
    else span.setAttributes(attributes);
    if (sampled.attributes) span.setAttributes(sampled.attributes);
    for (const link of links) span.addLink(link);
    this.processor.onStart(span, ctx);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: [F] | [SpanOptions, F] | [SpanOptions, Context, F]): ReturnType<F> {
    const fn = args[args.length - 1] as (span: Span) => ReturnType<F>;
    const options = args.length > 1 ? (args[0] as SpanOptions) : undefined;
    const parent = args.length > 2 ? (args[1] as Context) : api.active();
    const span = this.startSpan(name, options, parent);
    return api.with(trace.setSpan(parent, span), fn, undefined, span);
  }

  end(span: LeanSpan): void {
    this.processor.onEnd(span);
  }
}

/**
 * A recording span: the API's Span for instrumentation and the SDK's ReadableSpan for its
 * batch processor and the exporters, with the SDK span's semantics (limits, truncation,
 * times from one wall-clock reading plus the monotonic clock, nothing changes after end).
 * Queued spans outlive young collections, so each holds few objects: it is its own
 * SpanContext (read its fields; a spread copies the whole span), and its times are numbers
 * until an exporter reads them.
 */
export class LeanSpan implements Span, ReadableSpan, SpanContext {
  attributes: Attributes = NO_ATTRIBUTES;
  events: TimedEvent[] = NONE;
  links: Link[] = NONE;
  status: SpanStatus = UNSET;
  ended = false;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  private attributeCount = 0;
  /** Wall-clock ms at start (Date.now()), and the monotonic clock then: later times are start + elapsed, as in the SDK. */
  readonly startMs: number;
  private readonly startPerfMs: number;
  /** A start the caller gave (later times then come from the wall clock, as in the SDK). */
  private readonly givenStart: HrTime | undefined;
  /** Start to end in ns, measured on the monotonic clock; -1 until then, or when a time was given (read by the encoder, set by end()). */
  elapsedNs = -1;
  private givenEnd: HrTime | undefined;

  constructor(
    readonly tracer: LeanTracer,
    readonly traceId: string,
    readonly spanId: string,
    readonly traceFlags: number,
    readonly traceState: SpanContext["traceState"],
    readonly parentSpanContext: SpanContext | undefined,
    public name: string,
    readonly kind: SpanKind,
    startTime: TimeInput | undefined,
  ) {
    this.startMs = Date.now();
    this.startPerfMs = performance.now();
    this.givenStart = startTime == null ? undefined : this.time(startTime);
  }

  get startTime(): HrTime {
    return this.givenStart ?? millisToHrTime(this.startMs);
  }

  get endTime(): HrTime {
    if (!this.ended) return NOT_ENDED;
    return this.givenEnd ?? plusNs(this.startTime, this.elapsedNs);
  }

  get resource(): Resource {
    return this.tracer.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this.tracer.instrumentationScope;
  }

  get duration(): HrTime {
    if (!this.ended) return [-1, -1];
    return hrTimeDiff(this.startTime, this.endTime);
  }

  spanContext(): SpanContext {
    return this;
  }

  isRecording(): boolean {
    return !this.ended;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (value == null || this.ended || key.length === 0) return this;
    const type = typeof value;
    if (type !== "string" && type !== "number" && type !== "boolean") {
      if (!isAttributeValue(value)) {
        diag.warn(`Invalid attribute value set for key: ${key}`);
        return this;
      }
      // an array is copied, so the caller's later changes do not reach the exported span
      if (Array.isArray(value)) value = value.slice() as AttributeValue;
    }
    const isNew = !Object.prototype.hasOwnProperty.call(this.attributes, key);
    if (isNew && this.attributeCount >= this.tracer.limits.attributeCountLimit) {
      this.droppedAttributesCount++;
      return this;
    }
    if (this.attributes === NO_ATTRIBUTES) this.attributes = {};
    this.attributes[key] = truncate(value, this.tracer.limits.attributeValueLengthLimit);
    if (isNew) this.attributeCount++;
    return this;
  }

  /**
   * setAttributes for a fresh object the caller gives up: kept as the span's own when it holds only
   * what setAttributes would keep unchanged (scalars, no empty key, within the limits), else copied.
   */
  adoptAttributes(attributes: Attributes): void {
    const limits = this.tracer.limits;
    const length = limits.attributeValueLengthLimit;
    let count = 0;
    for (const key in attributes) {
      const value = attributes[key];
      const type = typeof value;
      const kept = type === "string" ? !(length > 0) || (value as string).length <= length : type === "number" || type === "boolean";
      if (!kept || key.length === 0 || !Object.prototype.hasOwnProperty.call(attributes, key)) {
        this.setAttributes(attributes);
        return;
      }
      count++;
    }
    if (this.attributeCount > 0 || count > limits.attributeCountLimit) {
      this.setAttributes(attributes);
      return;
    }
    this.attributes = attributes;
    this.attributeCount = count;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) if (Object.prototype.hasOwnProperty.call(attributes, key)) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const limits = this.tracer.limits;
    if (limits.eventCountLimit === 0) {
      this.droppedEventsCount++;
      return this;
    }
    if (this.events === NONE) this.events = [];
    else if (this.events.length >= limits.eventCountLimit) {
      this.events.shift();
      this.droppedEventsCount++;
    }
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) time = attributesOrTime;
      attributesOrTime = undefined;
    }
    const [attributes, droppedAttributesCount] = limited(attributesOrTime, limits.attributePerEventCountLimit, limits.attributeValueLengthLimit);
    this.events.push({ name, attributes, time: this.time(time), droppedAttributesCount });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    const limits = this.tracer.limits;
    if (limits.linkCountLimit === 0) {
      this.droppedLinksCount++;
      return this;
    }
    if (this.links === NONE) this.links = [];
    else if (this.links.length >= limits.linkCountLimit) {
      this.links.shift();
      this.droppedLinksCount++;
    }
    const [attributes, droppedAttributesCount] = limited(link.attributes, limits.attributePerLinkCountLimit, limits.attributeValueLengthLimit);
    const kept: Link = { context: link.context };
    if (Object.keys(attributes).length > 0) kept.attributes = attributes;
    if (droppedAttributesCount > 0) kept.droppedAttributesCount = droppedAttributesCount;
    this.links.push(kept);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    // a message belongs to ERROR only, and must be a string (the SDK drops anything else)
    this.status = status.code === SpanStatusCode.ERROR && typeof status.message === "string" ? { code: status.code, message: status.message } : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === "string") attributes["exception.message"] = exception;
    else if (exception) {
      if (exception.code) attributes["exception.type"] = exception.code.toString();
      else if (exception.name) attributes["exception.type"] = exception.name;
      if (exception.message) attributes["exception.message"] = exception.message;
      if (exception.stack) attributes["exception.stacktrace"] = exception.stack;
    }
    if (attributes["exception.type"] || attributes["exception.message"]) this.addEvent("exception", attributes, time);
  }

  end(endTime?: TimeInput): void {
    if (this.ended) {
      diag.error(`${this.name} ${this.traceId}-${this.spanId} - You can only call end() on a span once.`);
      return;
    }
    if (endTime == null && this.givenStart === undefined) this.elapsedNs = Math.round((performance.now() - this.startPerfMs) * 1e6);
    else {
      const start = this.startTime;
      const end = this.time(endTime);
      // an end before the start (a clock step, a given time) is a zero-length span, as in the SDK
      this.givenEnd = end[0] < start[0] || (end[0] === start[0] && end[1] < start[1]) ? [start[0], start[1]] : end;
    }
    this.ended = true;
    this.tracer.end(this);
  }

  /** The SDK span's clock: a given time as is; none: start + monotonic elapsed (wall clock when the start was given). */
  private time(input: TimeInput | undefined): HrTime {
    if (input == null) {
      if (this.givenStart !== undefined) return millisToHrTime(Date.now());
      return plusNs(this.startTime, Math.round((performance.now() - this.startPerfMs) * 1e6));
    }
    // a relative performance.now() reading is shifted onto this span's wall clock
    if (typeof input === "number" && input <= performance.now()) return millisToHrTime(input + (this.startMs - (this.startPerfMs + performance.timeOrigin)));
    return timeInputToHrTime(input);
  }
}

function plusNs(t: HrTime, ns: number): HrTime {
  const s = t[0] + Math.floor(ns / 1e9);
  const n = t[1] + (ns % 1e9);
  return n >= 1e9 ? [s + 1, n - 1e9] : [s, n];
}

function hrTimeDiff(start: HrTime, end: HrTime): HrTime {
  let s = end[0] - start[0];
  let ns = end[1] - start[1];
  if (ns < 0) {
    s -= 1;
    ns += 1e9;
  }
  return [s, ns];
}

function isTimeInput(v: unknown): v is TimeInput {
  return typeof v === "number" || v instanceof Date || (Array.isArray(v) && v.length === 2 && typeof v[0] === "number" && typeof v[1] === "number");
}

function truncate(value: AttributeValue, limit: number): AttributeValue {
  if (!(limit > 0) || limit === Infinity) return value;
  if (typeof value === "string") return value.length <= limit ? value : value.substring(0, limit);
  if (Array.isArray(value)) return value.map((v) => (typeof v === "string" && v.length > limit ? v.substring(0, limit) : v)) as AttributeValue;
  return value;
}

/** Valid attributes of an event or link, at most `count` of them, values truncated; and how many were dropped. */
function limited(attributes: Attributes | undefined, count: number, length: number): [Attributes, number] {
  const out: Attributes = {};
  let kept = 0;
  let dropped = 0;
  for (const key in attributes) {
    if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
    const value = attributes[key];
    if (key.length === 0 || !isAttributeValue(value)) continue;
    if (kept >= count) {
      dropped++;
      continue;
    }
    out[key] = truncate(Array.isArray(value) ? (value.slice() as AttributeValue) : (value as AttributeValue), length);
    kept++;
  }
  return [out, dropped];
}
