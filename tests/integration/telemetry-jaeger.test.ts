// Traces from the compiled binary into a real Jaeger v2 (OTLP/HTTP in, query API out).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { authHeaders, postJson, startBpm, type BpmProcess } from "../support/bpm.ts";
import { freePort, startJaeger, type JaegerServer } from "../support/servers.ts";
import { assertTraceTree, fetchTrace, jaegerServices } from "../support/trace-tree.ts";

let jaeger: JaegerServer;
const started: BpmProcess[] = [];

beforeAll(async () => {
  jaeger = await startJaeger();
}, 120_000);

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop().catch(() => p.kill())));
  await jaeger?.stop();
});

/** Exports to Jaeger quickly, so tests do not wait for the 5 s default batch delay. */
function otelEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpHttpEndpoint, OTEL_BSP_SCHEDULE_DELAY: "100", ...extra };
}

async function bpm(opts: Parameters<typeof startBpm>[0]): Promise<BpmProcess> {
  const p = await startBpm(opts);
  started.push(p);
  return p;
}

/** A caller's own trace context, as a browser or an upstream proxy would send it. */
function callerContext() {
  const hex = (bytes: number) => [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

describe("traces in Jaeger", () => {
  test("gateway and task-service as separate processes: a request is one trace, the service's span a descendant of the caller's", async () => {
    const ts = await bpm({ roles: ["task-service"], env: otelEnv() });
    const gw = await bpm({ roles: ["gateway"], env: otelEnv(), ports: { "task-service": ts.ports["task-service"] } });
    const caller = callerContext();
    const res = await postJson(`${gw.url("gateway")}/api/tasks`, { title: "traced", user_id: 3 }, { ...(await authHeaders("3")), traceparent: caller.traceparent });
    expect(res.status).toBe(201);
    const cid = res.headers.get("x-correlation-id");

    const trace = await assertTraceTree(jaeger.queryUrl, caller.traceId, { service: "task-service", name: "POST /api/tasks", kind: "server" });
    const server = trace.spans.find((s) => s.service === "task-service" && s.name === "POST /api/tasks")!;
    expect(server.tags).toMatchObject({ "http.route": "/api/tasks", "http.response.status_code": 201, "bpm.correlation_id": cid });
    // every span of the request hangs off the caller's span: nothing started a second trace
    expect(trace.roots.every((r) => r.parentId === caller.spanId)).toBe(true);
  }, 60_000);

  test("in --role=all every role reports under its own service.name", async () => {
    const all = await bpm({ env: otelEnv() });
    const hit = async (role: "gateway" | "task-service" | "form-service" | "process-service", path: string) => {
      const caller = callerContext();
      await fetch(`${all.url(role)}${path}`, { headers: { traceparent: caller.traceparent } });
      return caller.traceId;
    };
    const ids = {
      "task-service": await hit("task-service", "/api/tasks"),
      "form-service": await hit("form-service", "/api/forms"),
      "process-service": await hit("process-service", "/api/processes"),
      gateway: await hit("gateway", "/openapi.json"),
    };
    for (const [role, traceId] of Object.entries(ids)) {
      const trace = await fetchTrace(jaeger.queryUrl, traceId);
      expect(trace.spans.map((s) => s.service)).toEqual([role]);
    }
    expect(await jaegerServices(jaeger.queryUrl)).toEqual(expect.arrayContaining(["gateway", "task-service", "form-service", "process-service"]));
  }, 60_000);

  test("SIGTERM exports what is still queued before the process exits", async () => {
    // a batch delay far beyond the test: only the shutdown flush can deliver the span
    const ts = await bpm({ roles: ["task-service"], env: otelEnv({ OTEL_BSP_SCHEDULE_DELAY: "600000" }) });
    const caller = callerContext();
    expect((await fetch(`${ts.url("task-service")}/api/tasks`, { headers: { traceparent: caller.traceparent } })).status).toBe(200);
    await Bun.sleep(300);
    expect((await fetch(`${jaeger.queryUrl}/api/traces/${caller.traceId}`)).status).toBe(404);
    expect(await ts.stop()).toBe(0);
    const trace = await fetchTrace(jaeger.queryUrl, caller.traceId, { timeoutMs: 5_000 });
    expect(trace.spans.map((s) => `${s.service} ${s.name}`)).toEqual(["task-service GET /api/tasks"]);
  }, 60_000);
});

describe("a trace backend that fails never fails or slows requests", () => {
  test("a collector that accepts and never answers: requests stay fast, overflow is dropped and counted", async () => {
    // holds every connection open without a byte back: the worst case for an exporter
    const held: Array<{ end(): void }> = [];
    const blackhole = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: (s) => void held.push(s), data() {} } });
    try {
      const ts = await bpm({
        roles: ["task-service"],
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${blackhole.port}`,
          OTEL_BSP_SCHEDULE_DELAY: "20",
          OTEL_BSP_MAX_QUEUE_SIZE: "16",
          OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "8",
          OTEL_BSP_EXPORT_TIMEOUT: "30000",
        },
      });
      const url = `${ts.url("task-service")}/api/tasks`;
      const times: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t0 = performance.now();
        expect((await fetch(url)).status).toBe(200);
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      expect(times[Math.floor(times.length * 0.99)]!).toBeLessThan(250);
      const metrics = await (await fetch(`${ts.url("task-service")}/metrics`)).text();
      const dropped = Number(/^bpm_tracing_spans_dropped_total (\d+)/m.exec(metrics)?.[1]);
      const queued = Number(/^bpm_tracing_queued_spans (\d+)/m.exec(metrics)?.[1]);
      expect(dropped).toBeGreaterThan(150);
      expect(queued).toBeLessThanOrEqual(16);
      // and the process still shuts down within its grace, stuck export or not
      expect(await ts.stop(15_000)).toBe(0);
    } finally {
      for (const s of held) s.end();
      blackhole.stop(true);
    }
  }, 60_000);

  test("a collector that is down: export failures are counted, requests answer as usual", async () => {
    const nobody = await freePort();
    const ts = await bpm({ roles: ["task-service"], env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${nobody}`, OTEL_BSP_SCHEDULE_DELAY: "20", OTEL_BSP_EXPORT_TIMEOUT: "1000" } });
    for (let i = 0; i < 20; i++) expect((await fetch(`${ts.url("task-service")}/api/tasks`)).status).toBe(200);
    let failed = 0;
    for (let i = 0; i < 100 && failed === 0; i++) {
      await Bun.sleep(100);
      const metrics = await (await fetch(`${ts.url("task-service")}/metrics`)).text();
      failed = Number(/^bpm_tracing_spans_export_failed_total (\d+)/m.exec(metrics)?.[1] ?? 0);
    }
    expect(failed).toBeGreaterThan(0);
    expect(ts.output()).toContain("trace export failed");
  }, 60_000);
});
