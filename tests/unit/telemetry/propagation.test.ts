import { afterEach, describe, expect, test } from "bun:test";
import { Metadata } from "@grpc/grpc-js";
import { ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { injectTraceHeaders, pathOf, withHttpServerSpan } from "../../../src/telemetry/http-spans.ts";
import { extractContext, formatTraceparent, linkFromTraceparent } from "../../../src/telemetry/propagation.ts";
import { runInSpan, shutdownTracing, startSpan } from "../../../src/telemetry/tracing.ts";
import { tracingToMemory } from "./helpers.ts";

const CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

afterEach(() => shutdownTracing());

describe("W3C trace context in and out", () => {
  test("a span injected into HTTP headers is what the receiver extracts", async () => {
    await tracingToMemory();
    const span = startSpan("call");
    const headers = new Headers();
    injectTraceHeaders(headers, span);
    const sc = trace.getSpanContext(extractContext(headers))!;
    expect(sc).toMatchObject({ traceId: span.spanContext().traceId, spanId: span.spanContext().spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    expect(headers.get("traceparent")).toBe(formatTraceparent(span.spanContext()));
  });

  test("gRPC metadata carries it the same way", async () => {
    await tracingToMemory();
    const span = startSpan("rpc");
    const md = new Metadata();
    injectTraceHeaders(md, span);
    expect(md.get("traceparent")).toEqual([formatTraceparent(span.spanContext())]);
    expect(trace.getSpanContext(extractContext(md))?.spanId).toBe(span.spanContext().spanId);
  });

  test("plain header records are read case-insensitively", () => {
    const sc = trace.getSpanContext(extractContext({ TraceParent: CALLER }));
    expect(sc?.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });

  test("a request's trace continues downstream: same trace id, our span as parent, tracestate kept", async () => {
    await tracingToMemory();
    const incoming = new Request("http://svc.local/api/tasks/7", { headers: { traceparent: CALLER, tracestate: "vendor=abc,other=1" } });
    let outgoing = new Headers();
    let serverSpanId = "";
    await withHttpServerSpan({ role: "task-service", request: incoming, route: "/api/tasks/:id" }, () => {
      serverSpanId = trace.getActiveSpan()!.spanContext().spanId;
      outgoing = new Headers();
      injectTraceHeaders(outgoing);
      return new Response("ok");
    });
    expect(outgoing.get("traceparent")).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${serverSpanId}-01`);
    expect(outgoing.get("tracestate")).toBe("vendor=abc,other=1");
  });

  test("a front that parsed the traceparent itself hands the context over; a header record works as well", async () => {
    const { spans } = await tracingToMemory();
    const other = "00-11111111111111111111111111111111-2222222222222222-01";
    await withHttpServerSpan({ role: "task-service", request: { method: "GET", url: "http://svc.local/a", headers: new Headers({ traceparent: other }) }, parent: extractContext({ traceparent: CALLER }) }, () => new Response("ok"));
    await withHttpServerSpan({ role: "task-service", request: { method: "GET", url: "http://svc.local/b", headers: { traceparent: CALLER } } }, () => new Response("ok"));
    await withHttpServerSpan({ role: "task-service", request: { method: "GET", url: "http://svc.local/c" } }, () => new Response("ok"));
    const [a, b, c] = await spans();
    expect([a, b].map((s) => [s!.spanContext().traceId, s!.parentSpanContext?.spanId])).toEqual([
      ["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"],
      ["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"],
    ]);
    expect(c!.parentSpanContext).toBeUndefined();
  });

  test("a malformed traceparent is ignored: the server starts a new trace", async () => {
    const { spans } = await tracingToMemory();
    const req = new Request("http://svc.local/x", { headers: { traceparent: "00-zzzz-00f067aa0ba902b7-01" } });
    await withHttpServerSpan({ role: "task-service", request: req }, () => new Response("ok"));
    const [s] = await spans();
    expect(s!.parentSpanContext).toBeUndefined();
    expect(s!.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  test("a stored traceparent becomes a span link (outbox dispatch → the request that wrote it)", () => {
    expect(linkFromTraceparent(CALLER)?.context).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" });
    expect(linkFromTraceparent("garbage")).toBeUndefined();
    expect(linkFromTraceparent(undefined)).toBeUndefined();
  });

  test("with tracing off nothing is written, so a proxied client's own traceparent passes through untouched", () => {
    const headers = new Headers({ traceparent: CALLER });
    runInSpan(startSpan("x"), () => injectTraceHeaders(headers));
    expect(headers.get("traceparent")).toBe(CALLER);
    const empty = new Headers();
    injectTraceHeaders(empty);
    expect([...empty.keys()]).toEqual([]);
  });

  test("the span's path is read from the request URL without query or fragment", () => {
    expect(pathOf("http://127.0.0.1:8082/api/tasks/7?user_id=1")).toBe("/api/tasks/7");
    expect(pathOf("http://h/api/x#frag")).toBe("/api/x");
    expect(pathOf("http://h")).toBe("/");
    expect(pathOf("http://h/?q=/a")).toBe("/");
  });
});

describe("traceparent parsing", () => {
  test("reads every header exactly as the W3C propagator does (fast path and fallback alike)", () => {
    const library = new W3CTraceContextPropagator();
    const headerGetter = { get: (h: Headers, k: string) => h.get(k) ?? undefined, keys: (h: Headers) => [...h.keys()] };
    const cases = [
      CALLER,
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
      "",
    ];
    for (const traceparent of cases) {
      for (const tracestate of [undefined, "vendor=abc"]) {
        const headers = new Headers(tracestate ? { traceparent, tracestate } : { traceparent });
        const ours = trace.getSpanContext(extractContext(headers));
        const theirs = trace.getSpanContext(library.extract(ROOT_CONTEXT, headers, headerGetter));
        expect({ traceparent, tracestate, sc: ours ? { ...ours, traceState: ours.traceState?.serialize() } : undefined }).toEqual({
          traceparent,
          tracestate,
          sc: theirs ? { ...theirs, traceState: theirs.traceState?.serialize() } : undefined,
        });
      }
    }
  });
});
