import { afterEach, describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { FakeClock } from "../../../src/platform/clock.ts";
import { HealthRegistry } from "../../../src/platform/health.ts";
import { createHttpApp } from "../../../src/platform/http.ts";
import { Lifecycle } from "../../../src/platform/lifecycle.ts";
import { createLogger } from "../../../src/platform/logger.ts";
import { CircuitBreaker } from "../../../src/resilience/circuit-breaker.ts";
import { RateLimiter } from "../../../src/resilience/rate-limiter.ts";
import { Retry } from "../../../src/resilience/retry.ts";
import { endHttpClientSpan, injectTraceHeaders, startHttpClientSpan, withHttpServerSpan } from "../../../src/telemetry/http-spans.ts";
import { Metrics } from "../../../src/telemetry/metrics.ts";
import { withOutboxDispatchSpan, outboxTraceparent } from "../../../src/telemetry/outbox.ts";
import { traceCircuitBreaker, traceRateLimiter, traceRetry } from "../../../src/telemetry/resilience.ts";
import { withStorageSpan } from "../../../src/telemetry/storage-spans.ts";
import { initTracing, NOOP_SPAN, runInSpan, shutdownTracing, startSpan, tracingEnabled, withSpan } from "../../../src/telemetry/tracing.ts";
import { byName, captureStdout, parentOf, tracingToMemory } from "./helpers.ts";

afterEach(() => shutdownTracing());

function serve(role: string, metrics: Metrics) {
  const log = createLogger({ role });
  const app = createHttpApp({ role, log, metrics, health: new HealthRegistry(), lifecycle: new Lifecycle(log, 1_000), bodyLimitBytes: 1 << 20 }).use(
    new Elysia()
      .get("/api/items/:id", async ({ params }) => {
        await Bun.sleep(2);
        log.info("looking up item", { id: params.id });
        return withStorageSpan({ system: "sqlite", namespace: "items.db" }, "SELECT", "items", () => ({ id: params.id }));
      })
      .get("/api/boom", () => {
        throw new Error("kaput");
      }),
  );
  app.listen({ hostname: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${app.server!.port}`;
  return { base, stop: () => app.server!.stop(true) };
}

describe("HTTP server spans (every role's app)", () => {
  test("one SERVER span per request, named by route template, continuing the caller's trace", async () => {
    const t = await tracingToMemory(["task-service"]);
    const srv = serve("task-service", t.metrics);
    try {
      const res = await fetch(`${srv.base}/api/items/42`, { headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } });
      expect(res.status).toBe(200);
      const s = byName(await t.spans(), "GET /api/items/:id");
      expect(s.kind).toBe(SpanKind.SERVER);
      expect(s.spanContext().traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
      expect(parentOf(s)).toBe("00f067aa0ba902b7");
      expect(s.attributes).toMatchObject({
        "http.request.method": "GET",
        "http.route": "/api/items/:id",
        "url.path": "/api/items/42",
        "http.response.status_code": 200,
        "bpm.correlation_id": res.headers.get("x-correlation-id")!,
      });
      expect(s.resource.attributes).toMatchObject({ "service.name": "task-service", "service.version": "9.9.9", "bpm.role": "task-service" });
      expect(s.resource.attributes["service.instance.id"]).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      srv.stop();
    }
  });

  test("storage work inside a request is a db CLIENT child of its server span", async () => {
    const t = await tracingToMemory(["task-service"]);
    const srv = serve("task-service", t.metrics);
    try {
      await fetch(`${srv.base}/api/items/1`);
      const spans = await t.spans();
      const server = byName(spans, "GET /api/items/:id");
      const db = byName(spans, "SELECT items");
      expect(db.kind).toBe(SpanKind.CLIENT);
      expect(parentOf(db)).toBe(server.spanContext().spanId);
      expect(db.attributes).toMatchObject({ "db.system.name": "sqlite", "db.system": "sqlite", "db.operation.name": "SELECT", "db.collection.name": "items", "db.namespace": "items.db" });
      expect(db.resource.attributes["service.name"]).toBe("task-service");
    } finally {
      srv.stop();
    }
  });

  test("storage work outside any traced request makes no root spans", async () => {
    const t = await tracingToMemory();
    expect(withStorageSpan({ system: "postgresql" }, "SELECT", "outbox", () => 7)).toBe(7);
    expect(await withStorageSpan({ system: "postgresql" }, "SELECT", "outbox", async () => 8)).toBe(8);
    expect(await t.spans()).toEqual([]);
  });

  test("every log line inside a request carries the trace_id and span_id of its server span", async () => {
    const t = await tracingToMemory(["task-service"]);
    const srv = serve("task-service", t.metrics);
    try {
      const lines = await captureStdout(async () => {
        await fetch(`${srv.base}/api/items/9`);
      });
      const line = JSON.parse(lines.find((l) => l.includes("looking up item"))!);
      const server = byName(await t.spans(), "GET /api/items/:id");
      expect(line.trace_id).toBe(server.spanContext().traceId);
      expect(line.span_id).toBe(server.spanContext().spanId);
    } finally {
      srv.stop();
    }
  });

  test("a 500 marks the server span failed; 404 leaves it unset and unnamed by route; /health and /metrics make no spans", async () => {
    const t = await tracingToMemory(["task-service"]);
    const srv = serve("task-service", t.metrics);
    try {
      expect((await fetch(`${srv.base}/api/boom`)).status).toBe(500);
      expect((await fetch(`${srv.base}/api/nothing-here`)).status).toBe(404);
      await fetch(`${srv.base}/health`);
      await fetch(`${srv.base}/metrics`);
      const spans = await t.spans();
      expect(spans.map((s) => s.name).sort()).toEqual(["GET", "GET /api/boom"]);
      const boom = byName(spans, "GET /api/boom");
      expect(boom.status.code).toBe(SpanStatusCode.ERROR);
      expect(boom.attributes["error.type"]).toBe("500");
      const missing = byName(spans, "GET");
      expect(missing.status.code).toBe(SpanStatusCode.UNSET);
      expect(missing.attributes["http.route"]).toBeUndefined();
    } finally {
      srv.stop();
    }
  });
});

describe("one service.name per role, also when roles share a process", () => {
  test("spans of each role carry that role's resource; children inherit it", async () => {
    // gateway listed last: its client span must not fall back to the first role's tracer
    const t = await tracingToMemory(["task-service", "gateway"]);
    await withHttpServerSpan({ role: "gateway", request: new Request("http://gw.local/api/tasks"), route: "/api/tasks" }, async () => {
      const attempt = startHttpClientSpan({ service: "task-service", method: "GET", address: "127.0.0.1", port: 8082, route: "/api/tasks" });
      endHttpClientSpan(attempt, { status: 200 });
      return new Response("ok");
    });
    await withHttpServerSpan({ role: "task-service", request: new Request("http://ts.local/api/tasks"), route: "/api/tasks" }, () => new Response("ok"));
    const spans = await t.spans();
    const names = spans.map((s) => `${s.resource.attributes["service.name"]}:${s.kind === SpanKind.CLIENT ? "client" : "server"}`).sort();
    expect(names).toEqual(["gateway:client", "gateway:server", "task-service:server"]);
  });

  test("OTEL_SERVICE_NAME replaces the role as service.name; bpm.role still tells them apart", async () => {
    const t = await tracingToMemory(["gateway", "task-service"], { OTEL_SERVICE_NAME: "bpm-staging" });
    withSpan("a", { role: "gateway" }, () => undefined);
    withSpan("b", { role: "task-service" }, () => undefined);
    const spans = await t.spans();
    expect(spans.map((s) => [s.resource.attributes["service.name"], s.resource.attributes["bpm.role"]])).toEqual([
      ["bpm-staging", "gateway"],
      ["bpm-staging", "task-service"],
    ]);
  });
});

describe("upstream attempts, retries and resilience decisions", () => {
  test("a retried call is two sibling CLIENT spans under the request, the retry an event on it", async () => {
    const t = await tracingToMemory(["gateway"]);
    const clock = new FakeClock();
    const retry = new Retry({ name: "taskService", maxAttempts: 3, backoffPeriod: 0, clock, random: () => 0 });
    traceRetry(retry);
    traceRetry(retry);
    const sent: string[] = [];
    let attempt = 0;
    await withHttpServerSpan({ role: "gateway", request: new Request("http://gw.local/api/tasks/1"), route: "/api/tasks/:id" }, async () => {
      const res = await retry.execute(async () => {
        const span = startHttpClientSpan({ service: "task-service", method: "GET", address: "127.0.0.1", port: 8082, resendCount: attempt });
        const headers = new Headers();
        injectTraceHeaders(headers, span);
        sent.push(headers.get("traceparent")!);
        const status = attempt++ === 0 ? 503 : 200;
        endHttpClientSpan(span, { status });
        return new Response(null, { status });
      });
      return res;
    });
    const spans = await t.spans();
    const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
    const attempts = spans.filter((s) => s.kind === SpanKind.CLIENT);
    expect(attempts).toHaveLength(2);
    for (const a of attempts) expect(parentOf(a)).toBe(server.spanContext().spanId);
    expect(attempts.map((a) => a.attributes["http.response.status_code"])).toEqual([503, 200]);
    expect(attempts[0]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(attempts[1]!.attributes["http.request.resend_count"]).toBe(1);
    // each attempt told the upstream its own span as parent
    expect(sent).toEqual(attempts.map((a) => `00-${a.spanContext().traceId}-${a.spanContext().spanId}-01`));
    // traced twice, reported once
    expect(server.events.map((e) => [e.name, e.attributes?.["retry.attempt"], e.attributes?.["retry.cause"]])).toEqual([["retry", 2, "503"]]);
  });

  test("a breaker rejection and a rate-limit rejection show as events on the request's span", async () => {
    const t = await tracingToMemory(["gateway"]);
    const breaker = new CircuitBreaker({ name: "formService", slidingWindowSize: 2, minimumNumberOfCalls: 2, failureRateThreshold: 50, clock: new FakeClock() });
    const limiter = new RateLimiter({ name: "gateway", limitForPeriod: 1, limitRefreshPeriod: 60_000, clock: new FakeClock() });
    traceCircuitBreaker(breaker);
    traceRateLimiter(limiter);
    breaker.onResult(1, true);
    breaker.onResult(1, true);
    expect(breaker.state).toBe("OPEN");
    await withHttpServerSpan({ role: "gateway", request: new Request("http://gw.local/api/forms"), route: "/api/forms" }, async () => {
      expect(breaker.tryAcquirePermission()).toBe(false);
      limiter.check("u:1");
      limiter.check("u:1");
      return new Response(null, { status: 503 });
    });
    const [server] = await t.spans();
    expect(server!.events.map((e) => [e.name, e.attributes])).toEqual([
      ["breaker.rejected", { "breaker.name": "formService", "breaker.state": "OPEN" }],
      ["rate_limit.rejected", { "rate_limit.name": "gateway", "rate_limit.retry_after_ms": 60_000 }],
    ]);
  });

  test("an outbox dispatch continues the trace of the request that wrote the record, each attempt its own span", async () => {
    const t = await tracingToMemory(["process-service"]);
    let stored: string | undefined;
    await withHttpServerSpan({ role: "process-service", request: new Request("http://ps.local/api/processes", { method: "POST" }), route: "/api/processes" }, () => {
      stored = outboxTraceparent();
      return new Response(null, { status: 201 });
    });
    // delivered later, outside any request: once refused, then through
    await withOutboxDispatchSpan("process-service", { id: 17, type: "task.create", traceparent: stored }, async () => Promise.reject(new Error("breaker open"))).catch(() => undefined);
    await withOutboxDispatchSpan("process-service", { id: 17, type: "task.create", traceparent: stored }, async () => "sent");
    await withOutboxDispatchSpan("process-service", { id: 18, type: "task.create", traceparent: null }, async () => "sent");
    const spans = await t.spans();
    const writer = spans.find((s) => s.kind === SpanKind.SERVER)!;
    const dispatches = spans.filter((s) => s.name === "outbox dispatch task.create");
    expect(dispatches.slice(0, 2).map((d) => [parentOf(d), d.spanContext().traceId, d.status.code])).toEqual([
      [writer.spanContext().spanId, writer.spanContext().traceId, SpanStatusCode.ERROR],
      [writer.spanContext().spanId, writer.spanContext().traceId, SpanStatusCode.UNSET],
    ]);
    expect(dispatches[2]!.parentSpanContext).toBeUndefined();
    expect(dispatches[2]!.spanContext().traceId).not.toBe(writer.spanContext().traceId);
  });
});

describe("tracing off costs nothing", () => {
  test("no endpoint: helpers return the shared no-op span, run callbacks as they are, and touch no context", async () => {
    const cfg = await initTracing({ roles: ["gateway"], version: "1", env: {} });
    expect(cfg.enabled).toBe(false);
    expect(tracingEnabled).toBe(false);
    expect(startSpan("x")).toBe(NOOP_SPAN);
    expect(startHttpClientSpan({ service: "s", method: "GET", address: "a", port: 1 })).toBe(NOOP_SPAN);
    const res = new Response("same object");
    expect(withHttpServerSpan({ role: "gateway", request: new Request("http://x/") }, () => res)).toBe(res);
    runInSpan(NOOP_SPAN, () => expect(context.active()).toBe(ROOT_CONTEXT));
    expect(withSpan("y", {}, (span) => span)).toBe(NOOP_SPAN);
    expect(trace.getActiveSpan()).toBeUndefined();
    expect(outboxTraceparent()).toBeUndefined();
    // policies stay listener-free, so they build no event objects either
    const breaker = new CircuitBreaker({ name: "x" });
    traceCircuitBreaker(breaker);
    expect(breaker.onCallNotPermitted.hasListeners).toBe(false);
  });

  test("an app built while tracing is off answers without spans or trace fields in its logs", async () => {
    const metrics = new Metrics();
    const srv = serve("task-service", metrics);
    try {
      const lines = await captureStdout(async () => {
        expect((await fetch(`${srv.base}/api/items/3`)).status).toBe(200);
      });
      const line = JSON.parse(lines.find((l) => l.includes("looking up item"))!);
      expect(line.trace_id).toBeUndefined();
    } finally {
      srv.stop();
    }
  });
});
