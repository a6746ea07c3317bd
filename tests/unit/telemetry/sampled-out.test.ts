import { afterEach, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { Metadata } from "@grpc/grpc-js";
import { ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import { SamplingDecision, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import { declareLeafRole, elysiaServerSpans, endHttpClientSpan, endHttpServerSpan, injectTraceHeaders, startHttpClientSpan, startHttpServerSpan, withHttpServerSpan } from "../../../src/telemetry/http-spans.ts";
import { extractContext, isSampledOutTraceparent } from "../../../src/telemetry/propagation.ts";
import { endGrpcServerSpan, startGrpcServerSpan } from "../../../src/telemetry/grpc-spans.ts";
import { activeSpan, NOOP_SPAN, preSample, runInSpan, shutdownTracing } from "../../../src/telemetry/tracing.ts";
import { tracingToMemory } from "./helpers.ts";

afterEach(() => shutdownTracing());

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";
const request = { method: "GET", url: "http://x/api/tasks/1", headers: {} };

test("a sampled-out caller's span is passed on as it came: its traceparent is forwarded unchanged, nothing is recorded", async () => {
  const t = await tracingToMemory(["gateway"], { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "1" });
  const parent = extractContext({ traceparent: `00-${TRACE}-${PARENT}-00` });
  const server = startHttpServerSpan({ role: "gateway", request, route: "/api/tasks/:id" }, parent);
  // not re-decided: a ratio of 1 would sample a new trace; the caller said no
  expect(server.isRecording()).toBe(false);
  expect(server).toBe(trace.getSpan(parent)!);
  const headers: Record<string, string> = {};
  runInSpan(server, () => {
    const attempt = startHttpClientSpan({ service: "task-service", method: "GET", address: "127.0.0.1", port: 1 });
    expect(attempt).toBe(server);
    injectTraceHeaders(headers, attempt);
    endHttpClientSpan(attempt, { status: 200 });
  }, parent);
  expect(headers.traceparent).toBe(`00-${TRACE}-${PARENT}-00`);
  endHttpServerSpan(server, { status: 200, headers: new Headers() });
  expect(await t.spans()).toEqual([]);
});

test("a sampled caller is followed too: spans recorded under its trace whatever the ratio", async () => {
  const t = await tracingToMemory(["gateway"], { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" });
  const parent = extractContext({ traceparent: `00-${TRACE}-${PARENT}-01` });
  expect(preSample(parent)).toBeUndefined();
  const server = startHttpServerSpan({ role: "gateway", request }, parent);
  expect(server.isRecording()).toBe(true);
  endHttpServerSpan(server, { status: 200, headers: new Headers() });
  const [s] = await t.spans();
  expect(s!.spanContext().traceId).toBe(TRACE);
  expect(s!.parentSpanContext?.spanId).toBe(PARENT);
});

test("a new trace is decided once, on the trace id it keeps: sampled roots as the ratio sampler says, the rest with ids and flag 00", async () => {
  const ratio = 0.5;
  const t = await tracingToMemory(["gateway"], { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: String(ratio) });
  const sampler = new TraceIdRatioBasedSampler(ratio);
  let recorded = 0;
  for (let i = 0; i < 200; i++) {
    const span = startHttpServerSpan({ role: "gateway", request }, ROOT_CONTEXT);
    const sc = span.spanContext();
    expect(trace.isSpanContextValid(sc)).toBe(true);
    const expected = sampler.shouldSample(ROOT_CONTEXT, sc.traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
    expect(span.isRecording()).toBe(expected);
    expect(sc.traceFlags).toBe(expected ? TraceFlags.SAMPLED : TraceFlags.NONE);
    if (expected) recorded++;
    endHttpServerSpan(span, { status: 200, headers: new Headers() });
  }
  expect(recorded).toBeGreaterThan(0);
  expect(recorded).toBeLessThan(200);
  expect((await t.spans()).length).toBe(recorded);
});

test("a server span that is not recorded waits on no promise: the handler's own promise comes back", async () => {
  await tracingToMemory(["task-service"], { OTEL_TRACES_SAMPLER: "parentbased_always_on" });
  const res = Promise.resolve(new Response("ok"));
  const parent = extractContext({ traceparent: `00-${TRACE}-${PARENT}-00` });
  const out = withHttpServerSpan({ role: "task-service", request, parent }, () => {
    // the caller's context is active for outgoing calls, sampled flag off
    expect(activeSpan()?.spanContext().traceId).toBe(TRACE);
    return res;
  });
  expect(out).toBe(res);
});

test("a leaf role runs a sampled-out request with no trace context; a sampled one in its span", async () => {
  const t = await tracingToMemory(["leaf-role"]);
  declareLeafRole("leaf-role");
  const seen: Array<string | undefined> = [];
  const app = new Elysia().wrap(elysiaServerSpans("leaf-role")).get("/api/x", () => {
    seen.push(activeSpan()?.spanContext().traceId);
    return "ok";
  });
  expect((await app.handle(new Request("http://127.0.0.1/api/x", { headers: { traceparent: `00-${TRACE}-${PARENT}-00` } }))).status).toBe(200);
  expect((await app.handle(new Request("http://127.0.0.1/api/x", { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } }))).status).toBe(200);
  expect(seen).toEqual([undefined, TRACE]);
  expect((await t.spans()).map((s) => s.name)).toEqual(["GET"]);
});

test("isSampledOutTraceparent: only a well-formed version-00 header with the sampled bit clear", () => {
  expect(isSampledOutTraceparent(`00-${TRACE}-${PARENT}-00`)).toBe(true);
  expect(isSampledOutTraceparent(`00-${TRACE}-${PARENT}-02`)).toBe(true);
  expect(isSampledOutTraceparent(`00-${TRACE}-${PARENT}-01`)).toBe(false);
  expect(isSampledOutTraceparent(`00-${TRACE}-${PARENT}-0f`)).toBe(false);
  expect(isSampledOutTraceparent(`00-${"0".repeat(32)}-${PARENT}-00`)).toBe(false);
  expect(isSampledOutTraceparent(`00-${TRACE}-${PARENT}-0`)).toBe(false);
  expect(isSampledOutTraceparent(`01-${TRACE}-${PARENT}-00`)).toBe(false);
  expect(isSampledOutTraceparent(`00-${TRACE.toUpperCase()}-${PARENT}-00`)).toBe(false);
});

test("gRPC: a sampled-out call runs with no context in a leaf role, with the caller's span passed on elsewhere", async () => {
  const t = await tracingToMemory(["grpc-leaf", "grpc-caller"]);
  declareLeafRole("grpc-leaf");
  const metadata = new Metadata();
  metadata.set("traceparent", `00-${TRACE}-${PARENT}-00`);
  expect(startGrpcServerSpan("grpc-leaf", "bpm.Tasks", "Get", metadata)).toBe(NOOP_SPAN);
  const passed = startGrpcServerSpan("grpc-caller", "bpm.Tasks", "Get", metadata);
  expect(passed.isRecording()).toBe(false);
  expect(passed.spanContext().spanId).toBe(PARENT);
  metadata.set("traceparent", `00-${TRACE}-${PARENT}-01`);
  const recorded = startGrpcServerSpan("grpc-leaf", "bpm.Tasks", "Get", metadata);
  expect(recorded.isRecording()).toBe(true);
  endGrpcServerSpan(recorded, 0);
  expect((await t.spans()).map((s) => s.name)).toEqual(["bpm.Tasks/Get"]);
});

test("a role that calls out carries a sampled-out caller's trace on, across awaits, flag off", async () => {
  const t = await tracingToMemory(["caller-role"], { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "1" });
  const sent: Array<Record<string, string>> = [];
  const app = new Elysia().wrap(elysiaServerSpans("caller-role")).get("/api/y", async () => {
    await Bun.sleep(1);
    // what an outgoing call does: a client span under the active context, its traceparent injected
    const attempt = startHttpClientSpan({ service: "task-service", method: "GET", address: "127.0.0.1", port: 1 });
    const headers: Record<string, string> = {};
    injectTraceHeaders(headers, attempt);
    endHttpClientSpan(attempt, { status: 200 });
    sent.push(headers);
    return "ok";
  });
  expect((await app.handle(new Request("http://127.0.0.1/api/y", { headers: { traceparent: `00-${TRACE}-${PARENT}-00` } }))).status).toBe(200);
  expect(sent).toEqual([{ traceparent: `00-${TRACE}-${PARENT}-00` }]);
  expect(await t.spans()).toEqual([]);
});
