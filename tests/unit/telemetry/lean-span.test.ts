// bpm's LeanTracer records what the SDK's own tracer records: same operations, same spans.
import { describe, expect, test } from "bun:test";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Context, type Tracer } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  ParentBasedSampler,
  RandomIdGenerator,
  SimpleSpanProcessor,
  type ReadableSpan,
  type Sampler,
} from "@opentelemetry/sdk-trace-base";
import { SpanFrame } from "../../../src/telemetry/context.ts";
import { spanLimitsFromEnv } from "../../../src/telemetry/config.ts";
import { LeanTracer, type SpanLimits } from "../../../src/telemetry/span.ts";

const remote = trace.setSpanContext(ROOT_CONTEXT, { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: TraceFlags.SAMPLED, isRemote: true });
const unsampledRemote = trace.setSpanContext(ROOT_CONTEXT, { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: TraceFlags.NONE, isRemote: true });
const resource = resourceFromAttributes({ "service.name": "lean-test", "bpm.role": "gateway" });
const scope = { name: "bpm", version: "1.2.3" };

/** The SDK's tracer and a LeanTracer over the same sampler and limits, each exporting into memory. */
function tracers(sampler: Sampler, limits: SpanLimits) {
  const sdkSpans = new InMemorySpanExporter();
  const leanSpans = new InMemorySpanExporter();
  const sdk = new BasicTracerProvider({ resource, sampler, spanLimits: limits, spanProcessors: [new SimpleSpanProcessor(sdkSpans)] }).getTracer(scope.name, scope.version);
  const lean = new LeanTracer(resource, scope, sampler, new SimpleSpanProcessor(leanSpans), new RandomIdGenerator(), limits);
  return { sdk, lean, sdkSpans, leanSpans };
}

/** Everything a span exports, with ids replaced by their relations (ids and clock readings differ from run to run). */
function exported(spans: readonly ReadableSpan[]) {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s.name]));
  return spans.map((s) => ({
    name: s.name,
    kind: s.kind,
    traceId: s.spanContext().traceId === "4bf92f3577b34da6a3ce929d0e0e4736" ? "the remote trace" : "another trace",
    traceFlags: s.spanContext().traceFlags,
    parent: s.parentSpanContext ? (byId.get(s.parentSpanContext.spanId) ?? `remote ${s.parentSpanContext.spanId}, remote: ${s.parentSpanContext.isRemote}`) : "none",
    attributes: s.attributes,
    events: s.events.map((e) => ({ ...e, time: e.name === "at a given time" ? e.time : "now", attributes: withoutStack(e.attributes) })),
    links: s.links,
    status: s.status,
    droppedAttributesCount: s.droppedAttributesCount,
    droppedEventsCount: s.droppedEventsCount,
    droppedLinksCount: s.droppedLinksCount,
    ended: s.ended,
    times: s.name === "given times" ? [s.startTime, s.endTime, s.duration] : s.duration[0] >= 0 && s.duration[1] >= 0,
    resource: s.resource.attributes,
    scope: s.instrumentationScope,
  }));
}

const withoutStack = (a: Record<string, unknown> | undefined) => {
  if (!a || !("exception.stacktrace" in a)) return a;
  const { "exception.stacktrace": stack, ...rest } = a;
  return { ...rest, "exception.stacktrace": typeof stack === "string" && stack.includes("boom") };
};

/** One of everything instrumentation does to spans, limits included; `fresh`: the LeanTracer may keep the attributes objects it is given. */
function script(tracer: Tracer, parent: Context, fresh = false): void {
  const start: Tracer["startSpan"] = fresh ? (n, o, c) => (tracer as LeanTracer).startSpan(n, o, c, true) : (n, o, c) => tracer.startSpan(n, o, c);
  const server = start(
    "GET",
    {
      kind: SpanKind.SERVER,
      attributes: { "http.request.method": "GET", "url.path": "/a/very/long/path/indeed", list: ["abcdefghijklmno", "b"], ok: true, "": 1, nothing: undefined, mixed: [1, "a"] as never, bad: {} as never },
      links: [{ context: trace.getSpanContext(remote)!, attributes: { a: 1, b: "two", c: 3 } }],
    },
    parent,
  );
  server.setAttribute("http.route", "/a/:b");
  server.setAttribute("url.path", "/overwritten: not a new key");
  server.setAttribute("one.too.many", 1);
  server.setAttributes({ also: "dropped", "http.request.method": "POST" });
  for (let i = 0; i < 5; i++) server.addEvent(`retry ${i}`, { "retry.attempt": i, "retry.cause": "a cause longer than ten", extra: 1 });
  server.addEvent("at a given time", { at: "given" }, [1_700_000_000, 5]);
  server.recordException(new Error("boom"));
  server.recordException("only a message");
  server.addLink({ context: trace.getSpanContext(remote)!, attributes: { second: "link replaces the first" } });
  server.updateName("GET /a/:b");
  server.setStatus({ code: SpanStatusCode.ERROR, message: "bad gateway" });

  // scalars within the limits: a fresh object becomes the span's own, and takes later attributes under the same limits
  const clean = start("clean", { kind: SpanKind.CLIENT, attributes: { "server.address": "10.0.0.1", "server.port": 8082, retried: false } }, new SpanFrame(parent, server));
  clean.setAttribute("http.response.status_code", 200);
  clean.setAttribute("one.past.the.limit", 1);
  clean.setAttribute("server.address", "a value longer than ten");
  clean.end();
  const child = tracer.startSpan("child", { kind: SpanKind.CLIENT }, new SpanFrame(parent, server));
  child.setStatus({ code: SpanStatusCode.OK });
  child.setStatus({ code: SpanStatusCode.ERROR, message: "OK is final" });
  child.end();
  tracer.startSpan("a new root", { root: true }, trace.setSpan(parent, server)).end();
  tracer.startSpan("given times", { startTime: [1_700_000_000, 999_999_999] }, parent).end([1_700_000_001, 1]);
  tracer.startSpan("ends before it starts", { startTime: [1_700_000_002, 0] }, parent).end([1_700_000_001, 0]);
  server.end();
  // after the end, nothing changes
  server.setAttribute("late", 1);
  server.addEvent("late");
  server.setStatus({ code: SpanStatusCode.OK });
  server.updateName("renamed late");
  server.end();
}

const small: SpanLimits = { attributeCountLimit: 4, attributeValueLengthLimit: 10, eventCountLimit: 3, linkCountLimit: 1, attributePerEventCountLimit: 2, attributePerLinkCountLimit: 2 };

describe("LeanTracer makes the SDK's spans", () => {
  for (const [name, limits] of [
    ["with tight limits (drops, truncation, event and link eviction)", small],
    ["with the default limits", spanLimitsFromEnv({})],
  ] as const) {
    test(name, () => {
      const t = tracers(new ParentBasedSampler({ root: new AlwaysOnSampler() }), limits);
      script(t.sdk, remote);
      script(t.lean, remote);
      const sdk = exported(t.sdkSpans.getFinishedSpans());
      expect(sdk.length).toBe(6);
      expect(exported(t.leanSpans.getFinishedSpans())).toEqual(sdk);
    });
    test(`${name}, attributes handed over at start`, () => {
      const t = tracers(new ParentBasedSampler({ root: new AlwaysOnSampler() }), limits);
      script(t.sdk, remote);
      script(t.lean, remote, true);
      expect(exported(t.leanSpans.getFinishedSpans())).toEqual(exported(t.sdkSpans.getFinishedSpans()));
    });
  }

  test("a sampled-out span records nothing but carries the trace on, unsampled", () => {
    for (const [sampler, parent] of [
      [new AlwaysOffSampler(), remote],
      [new ParentBasedSampler({ root: new AlwaysOnSampler() }), unsampledRemote],
    ] as const) {
      const t = tracers(sampler, small);
      const sdk = t.sdk.startSpan("x", {}, parent);
      const lean = t.lean.startSpan("x", {}, parent);
      expect(lean.isRecording()).toBe(sdk.isRecording());
      expect(lean.isRecording()).toBe(false);
      expect({ ...lean.spanContext(), spanId: "" }).toEqual({ ...sdk.spanContext(), spanId: "" });
      expect(lean.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
      lean.end();
      sdk.end();
      expect(t.leanSpans.getFinishedSpans()).toEqual([]);
    }
  });

  test("span limits come from the SDK's variables, span-specific ones first, and bad values are refused", () => {
    expect(spanLimitsFromEnv({})).toEqual({ attributeCountLimit: 128, attributeValueLengthLimit: Infinity, eventCountLimit: 128, linkCountLimit: 128, attributePerEventCountLimit: 128, attributePerLinkCountLimit: 128 });
    const limits = spanLimitsFromEnv({ OTEL_ATTRIBUTE_COUNT_LIMIT: "7", OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: "50", OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: "20", OTEL_SPAN_EVENT_COUNT_LIMIT: "0" });
    expect(limits).toMatchObject({ attributeCountLimit: 7, attributeValueLengthLimit: 20, eventCountLimit: 0 });
    expect(() => spanLimitsFromEnv({ OTEL_SPAN_LINK_COUNT_LIMIT: "lots" })).toThrow("OTEL_SPAN_LINK_COUNT_LIMIT");
  });
});

describe("SpanFrame is trace.setSpan's context", () => {
  test("same span, same other values, same results of setting and deleting", () => {
    const key = Symbol("other");
    const base = remote.setValue(key, "kept");
    const span = trace.wrapSpanContext({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "1111111111111111", traceFlags: TraceFlags.SAMPLED });
    const other = trace.wrapSpanContext({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "2222222222222222", traceFlags: TraceFlags.SAMPLED });
    const frame = new SpanFrame(base, span);
    const api = trace.setSpan(base, span);
    const read = (c: Context) => ({ span: trace.getSpan(c), other: c.getValue(key) });
    expect(read(frame)).toEqual(read(api));
    expect(read(trace.setSpan(frame, other))).toEqual(read(trace.setSpan(api, other)));
    expect(read(frame.setValue(key, "changed"))).toEqual(read(api.setValue(key, "changed")));
    expect(read(frame.deleteValue(key))).toEqual(read(api.deleteValue(key)));
    // deleting the span hides the remote one underneath too
    expect(read(trace.deleteSpan(frame))).toEqual(read(trace.deleteSpan(api)));
    expect(trace.getSpan(trace.deleteSpan(frame))).toBeUndefined();
  });
});
