// Traces from the compiled binary into a real Jaeger v2 (OTLP/HTTP in, query API out).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { adminFetch, authHeaders, postJson, startBpm, type BpmProcess } from "../support/bpm.ts";
import { freePort, startJaeger, startPostgres, type JaegerServer } from "../support/servers.ts";
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
  test("gateway and task-service as separate processes: one trace, gateway server span → attempt client span → task-service server span", async () => {
    const ts = await bpm({ roles: ["task-service"], env: otelEnv() });
    const gw = await bpm({ roles: ["gateway"], env: otelEnv(), ports: { "task-service": ts.ports["task-service"] } });
    const caller = callerContext();
    const res = await postJson(`${gw.url("gateway")}/api/tasks`, { title: "traced", user_id: 3 }, { ...(await authHeaders("3")), traceparent: caller.traceparent });
    expect(res.status).toBe(201);
    const cid = res.headers.get("x-correlation-id");

    const trace = await assertTraceTree(jaeger.queryUrl, caller.traceId, {
      service: "gateway",
      name: "POST /api/tasks",
      kind: "server",
      tags: { "http.route": "/api/tasks", "http.response.status_code": 201, "bpm.correlation_id": cid },
      children: [
        {
          service: "gateway",
          name: "POST /api/tasks",
          kind: "client",
          tags: { "peer.service": "task-service", "http.response.status_code": 201 },
          children: [
            {
              service: "task-service",
              name: "POST /api/tasks",
              kind: "server",
              tags: { "http.response.status_code": 201, "bpm.correlation_id": cid },
              // the store call the request made: a db client span, one per store method
              children: [{ service: "task-service", name: "INSERT tasks", kind: "client", tags: { "db.system.name": "sqlite", "db.operation.name": "INSERT", "db.collection.name": "tasks", "db.namespace": "task-service.db" } }],
            },
          ],
        },
      ],
    });
    const insert = trace.spans.find((s) => s.name === "INSERT tasks")!;
    // parameters never reach a span
    expect(JSON.stringify(insert.tags)).not.toContain("traced");
    // the caller's span is the only parent from outside: nothing started a second trace
    expect(trace.roots.map((r) => r.parentId)).toEqual([caller.spanId]);
  }, 60_000);

  test("a retried attempt is a second client span; a breaker rejection is an event on the gateway's span", async () => {
    const env = otelEnv({ BPM_FAULT_INJECTION: "1" });
    const bad = await bpm({ roles: ["task-service"], env, config: { fault_injection: { enabled: true } } });
    const good = await bpm({ roles: ["task-service"], env });
    const instances = [bad, good].map((p) => ({ address: "127.0.0.1", port: p.ports["task-service"].http, grpc_port: p.ports["task-service"].grpc }));
    const gw = await bpm({ roles: ["gateway"], env, config: { discovery: { mode: "static", static: { "task-service": instances } }, load_balancer: { sticky_sessions: { enabled: false } } } });
    expect((await adminFetch(`${bad.url("task-service")}/admin/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ status: 503 }) })).status).toBe(200);
    const auth = await authHeaders("4");

    // round robin: within two requests one starts on the failing instance and is retried on the other.
    // Whether a request was retried is read from the gateway's retry counter, not from a trace that may
    // still be arriving: a partial trace looked unretried, the loop went on, and the failures it added
    // opened the breaker (5 calls, 50%) before the retried trace was ever checked.
    const retries = async () => Number(/^bpm_retry_retries_total\{name="taskService"\} (\S+)/m.exec(await (await fetch(`${gw.url("gateway")}/metrics`)).text())?.[1] ?? 0);
    let retried: Awaited<ReturnType<typeof assertTraceTree>> | undefined;
    for (let i = 0; i < 4 && !retried; i++) {
      const caller = callerContext();
      const before = await retries();
      expect((await fetch(`${gw.url("gateway")}/api/tasks`, { headers: { ...auth, traceparent: caller.traceparent } })).status).toBe(200);
      if ((await retries()) === before) continue;
      retried = await assertTraceTree(jaeger.queryUrl, caller.traceId, {
        service: "gateway",
        name: "GET /api/tasks",
        kind: "server",
        events: ["retry"],
        children: [
          { service: "gateway", name: "GET /api/tasks", kind: "client", tags: { "http.response.status_code": 503 }, children: [{ service: "task-service", name: "GET", kind: "server" }] },
          { service: "gateway", name: "GET /api/tasks", kind: "client", tags: { "http.response.status_code": 200, "http.request.resend_count": 1 }, children: [{ service: "task-service", name: "GET /api/tasks", kind: "server" }] },
        ],
      });
    }
    expect(retried).toBeDefined();

    const admin = await authHeaders("1", true);
    const open = await fetch(`${gw.url("gateway")}/admin/breakers/taskService`, { method: "POST", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ state: "FORCED_OPEN" }) });
    expect(open.status).toBe(200);
    // never asked before: nothing cached to fall back on, so the rejection reaches the client
    const caller = callerContext();
    expect((await fetch(`${gw.url("gateway")}/api/tasks?user_id=4`, { headers: { ...auth, traceparent: caller.traceparent } })).status).toBe(503);
    const rejected = await assertTraceTree(jaeger.queryUrl, caller.traceId, { service: "gateway", name: "GET /api/tasks", kind: "server", events: ["breaker.rejected"], tags: { "http.response.status_code": 503 } });
    // refused before any attempt: no client span
    expect(rejected.spans.map((s) => s.kind)).toEqual(["server"]);
    expect(rejected.spans[0]!.eventFields.find((f) => f.event === "breaker.rejected")).toMatchObject({ "breaker.name": "taskService", "breaker.state": "FORCED_OPEN" });
    // an open breaker is not retry's business (Resilience4j: IGNORED_ERROR): no retry was in question, so no give-up either
    expect(rejected.spans[0]!.eventFields.map((f) => f.event)).not.toContain("retry.give_up");

    // asked before: the gateway serves its cached answer, and the trace says so
    const again = callerContext();
    expect((await fetch(`${gw.url("gateway")}/api/tasks`, { headers: { ...auth, traceparent: again.traceparent } })).status).toBe(200);
    await assertTraceTree(jaeger.queryUrl, again.traceId, { service: "gateway", name: "GET /api/tasks", kind: "server", events: ["breaker.rejected", "fallback"] });
  }, 90_000);

  test("retries over pooled connections stay in their own request's trace (not the trace of the request that opened the connection)", async () => {
    const env = otelEnv({ BPM_FAULT_INJECTION: "1" });
    const bad = await bpm({ roles: ["task-service"], env, config: { fault_injection: { enabled: true } } });
    const good = await bpm({ roles: ["task-service"], env });
    const instances = [bad, good].map((p) => ({ address: "127.0.0.1", port: p.ports["task-service"].http, grpc_port: p.ports["task-service"].grpc }));
    const gw = await bpm({
      roles: ["gateway"],
      env,
      config: {
        discovery: { mode: "static", static: { "task-service": instances } },
        load_balancer: { algorithm: "round_robin", sticky_sessions: { enabled: false } },
        resilience4j: { circuitbreaker: { instances: { taskService: { minimumNumberOfCalls: 1000 } } } },
      },
    });
    expect((await adminFetch(`${bad.url("task-service")}/admin/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ status: 503 }) })).status).toBe(200);
    const auth = await authHeaders("6");
    const retries = async () => Number(/^bpm_retry_retries_total\{name="taskService"\} (\S+)/m.exec(await (await fetch(`${gw.url("gateway")}/metrics`)).text())?.[1] ?? 0);
    // sequential requests: one keep-alive connection per instance, opened by the first request that went there
    const retriedTraces: string[] = [];
    for (let i = 0; i < 12 && retriedTraces.length < 3; i++) {
      const caller = callerContext();
      const before = await retries();
      expect((await fetch(`${gw.url("gateway")}/api/tasks?user_id=6`, { headers: { ...auth, traceparent: caller.traceparent } })).status).toBe(200);
      if ((await retries()) > before) retriedTraces.push(caller.traceId);
    }
    expect(retriedTraces.length).toBe(3);
    for (const traceId of retriedTraces) {
      const t = await assertTraceTree(jaeger.queryUrl, traceId, {
        service: "gateway",
        name: "GET /api/tasks",
        kind: "server",
        events: ["retry"],
        children: [
          { service: "gateway", name: "GET /api/tasks", kind: "client", tags: { "http.response.status_code": 503 } },
          { service: "gateway", name: "GET /api/tasks", kind: "client", tags: { "http.response.status_code": 200, "http.request.resend_count": 1 } },
        ],
      });
      // exactly this request's two attempts: none of another request's
      expect(t.spans.filter((s) => s.service === "gateway" && s.kind === "client").length).toBe(2);
    }
  }, 90_000);

  test("in --role=all every role reports under its own service.name", async () => {
    const all = await bpm({ env: otelEnv() });
    const hit = async (role: "gateway" | "task-service" | "form-service" | "process-service", path: string) => {
      const caller = callerContext();
      await fetch(`${all.url(role)}${path}`, { headers: { ...(await authHeaders(1)), traceparent: caller.traceparent } });
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
      expect(new Set(trace.spans.map((s) => s.service))).toEqual(new Set([role]));
    }
    // a listing's store calls (rows, count) are the role's own spans, under its server span
    await assertTraceTree(jaeger.queryUrl, ids["form-service"], {
      service: "form-service",
      name: "GET /api/forms",
      kind: "server",
      children: [{ service: "form-service", name: "SELECT forms", kind: "client", tags: { "db.system.name": "sqlite", "db.namespace": "form-service.db" } }],
    });
    expect(await jaegerServices(jaeger.queryUrl)).toEqual(expect.arrayContaining(["gateway", "task-service", "form-service", "process-service"]));
  }, 60_000);

  test("on PostgreSQL, store calls are postgresql db spans under task-service's server span", async () => {
    const pg = await startPostgres();
    try {
      const ts = await bpm({ roles: ["task-service"], env: otelEnv({ DATABASE_URL: pg.url }) });
      const caller = callerContext();
      const res = await postJson(`${ts.url("task-service")}/api/tasks`, { title: "on postgres", user_id: 5 }, { ...(await authHeaders(5)), traceparent: caller.traceparent });
      expect(res.status).toBe(201);
      const id = ((await res.json()) as { id: number }).id;
      const read = callerContext();
      expect((await fetch(`${ts.url("task-service")}/api/tasks/${id}`, { headers: { ...(await authHeaders(5)), traceparent: read.traceparent } })).status).toBe(200);
      const db = { "db.system.name": "postgresql", "db.system": "postgresql", "db.namespace": pg.database };
      await assertTraceTree(jaeger.queryUrl, caller.traceId, {
        service: "task-service",
        name: "POST /api/tasks",
        kind: "server",
        children: [{ service: "task-service", name: "INSERT tasks", kind: "client", tags: { ...db, "db.operation.name": "INSERT", "db.collection.name": "tasks" } }],
      });
      await assertTraceTree(jaeger.queryUrl, read.traceId, {
        service: "task-service",
        name: "GET /api/tasks/:id",
        kind: "server",
        children: [{ service: "task-service", name: "SELECT tasks", kind: "client", tags: { ...db, "db.operation.name": "SELECT", "db.collection.name": "tasks" } }],
      });
      await ts.stop();
    } finally {
      await pg.stop();
    }
  }, 90_000);

  test("SIGTERM exports what is still queued before the process exits", async () => {
    // a batch delay far beyond the test: only the shutdown flush can deliver the span
    const ts = await bpm({ roles: ["task-service"], env: otelEnv({ OTEL_BSP_SCHEDULE_DELAY: "600000" }) });
    const caller = callerContext();
    expect((await fetch(`${ts.url("task-service")}/api/tasks`, { headers: { ...(await authHeaders(1)), traceparent: caller.traceparent } })).status).toBe(200);
    await Bun.sleep(300);
    expect((await fetch(`${jaeger.queryUrl}/api/traces/${caller.traceId}`)).status).toBe(404);
    expect(await ts.stop()).toBe(0);
    // the listing and its count are two store calls under the server span
    const trace = await fetchTrace(jaeger.queryUrl, caller.traceId, { minSpans: 3, timeoutMs: 5_000 });
    expect(trace.spans.map((s) => `${s.service} ${s.name}`).sort()).toEqual(["task-service GET /api/tasks", "task-service SELECT tasks", "task-service SELECT tasks"]);
  }, 60_000);
});

describe("one process instance across all four services is one trace", () => {
  test("gateway → process-service → form-service (one attempt retried) and task-service (after a breaker rejection)", async () => {
    const env = otelEnv();
    const ts = await bpm({ roles: ["task-service"], env });
    const fs = await bpm({ roles: ["form-service"], env });
    // a form-service instance discovery still lists but nobody serves: the attempt that meets it fails and is retried
    const dead = { address: "127.0.0.1", port: await freePort(), grpc_port: await freePort() };
    const live = { address: "127.0.0.1", port: fs.ports["form-service"].http, grpc_port: fs.ports["form-service"].grpc };
    const ps = await bpm({
      roles: ["process-service"],
      env,
      ports: { "task-service": ts.ports["task-service"] },
      config: {
        discovery: { mode: "static", static: { "form-service": [dead, live] } },
        resilience4j: {
          circuitbreaker: {
            instances: {
              // a short open state: the outbox honours the breaker's Retry-After before its next attempt
              taskService: { waitDurationInOpenState: "2s" },
              // the dead instance's failures must lead to retries here, not to an open breaker
              formService: { minimumNumberOfCalls: 100 },
            },
          },
        },
      },
    });
    const gw = await bpm({ roles: ["gateway"], env, ports: { "process-service": ps.ports["process-service"], "form-service": fs.ports["form-service"], "task-service": ts.ports["task-service"] } });
    const api = gw.url("gateway");
    // the employee also designs this one-step process (publishing and deploying need the designer role)
    const employee = await authHeaders("11", false, ["designer"]);
    const run = crypto.randomUUID().slice(0, 8);
    const json = { "content-type": "application/json" };

    expect((await postJson(`${api}/api/forms`, { key: `note-${run}`, title: "Note", fields: [{ name: "note", label: "Note", type: "string", required: true }] }, employee)).status).toBe(201);
    const definition = { key: `e2e-${run}`, name: "One step", steps: [{ id: "write", name: "Write a note", form_key: `note-${run}`, assignee: "${employee_id}", default_next: "done" }], end_states: [{ id: "done", name: "Done" }] };
    expect((await postJson(`${api}/api/processes`, definition, employee)).status).toBe(201);
    const started = await postJson(`${api}/api/processes/${definition.key}/instances`, { variables: { employee_id: 11 } }, employee);
    expect(started.status).toBe(201);
    const instance = ((await started.json()) as { id: string }).id;
    // the step's task arrives through the outbox
    for (let i = 0; i < 100; i++) {
      const list = (await (await fetch(`${api}/api/tasks?process_instance_id=${instance}`, { headers: employee })).json()) as { items: unknown[] };
      if (list.items.length > 0) break;
      await Bun.sleep(50);
    }

    // the process-service's breaker towards task-service opens just before the step completes
    const opened = await fetch(`${ps.url("process-service")}/admin/breakers/taskService`, { method: "POST", headers: { ...(await authHeaders("1", true)), ...json }, body: JSON.stringify({ state: "OPEN" }) });
    expect(opened.status).toBe(200);
    const caller = callerContext();
    const done = await fetch(`${api}/api/processes/instances/${instance}/complete`, {
      method: "POST",
      headers: { ...employee, ...json, traceparent: caller.traceparent },
      body: JSON.stringify({ step_id: "write", data: { note: "traced end to end" } }),
    });
    expect(done.status, await done.clone().text()).toBe(200);

    // wait for the outbox's second dispatch (after the breaker's 2 s) to reach task-service
    let trace = await fetchTrace(jaeger.queryUrl, caller.traceId, { minSpans: 6 });
    for (let i = 0; i < 100 && !trace.spans.some((s) => s.service === "task-service"); i++) {
      await Bun.sleep(100);
      trace = await fetchTrace(jaeger.queryUrl, caller.traceId);
    }
    const drawn = trace.render();
    expect(new Set(trace.spans.map((s) => s.service)), drawn).toEqual(new Set(["gateway", "process-service", "form-service", "task-service"]));
    // one tree: everything descends from the caller's span through the gateway
    expect(trace.roots.map((r) => `${r.service} ${r.kind} ${r.parentId}`), drawn).toEqual([`gateway server ${caller.spanId}`]);
    await assertTraceTree(jaeger.queryUrl, caller.traceId, {
      service: "gateway",
      name: "POST /api/processes/instances/:id/complete",
      kind: "server",
      children: [{ service: "gateway", name: /^POST/, kind: "client", children: [{ service: "process-service", name: "POST /api/processes/instances/:id/complete", kind: "server" }] }],
    });
    const byId = new Map(trace.spans.map((s) => [s.spanId, s]));
    const ancestors = (span: (typeof trace.spans)[number]) => {
      const out: string[] = [];
      for (let p = span.parentId && byId.get(span.parentId); p; p = p.parentId ? byId.get(p.parentId) : undefined) out.push(`${p.service} ${p.kind}`);
      return out;
    };
    // the retry, where it happened: a process-service span with a `retry` event and two attempts at form-service, the first UNAVAILABLE
    const retried = trace.spans.find((s) => s.service === "process-service" && s.events.includes("retry"));
    expect(retried, drawn).toBeDefined();
    const attempts = retried!.children.filter((c) => c.kind === "client" && c.tags["rpc.system"] === "grpc");
    const codesByRpc = new Map<string, unknown[]>();
    for (const a of attempts) codesByRpc.set(a.name, [...(codesByRpc.get(a.name) ?? []), a.tags["rpc.grpc.status_code"]]);
    expect([...codesByRpc.values()], drawn).toContainEqual([14, 0]);
    // an attempt that failed never reached form-service; one that succeeded did
    for (const a of attempts) expect(a.children.map((c) => c.service)).toEqual(a.tags["rpc.grpc.status_code"] === 0 ? ["form-service"] : []);
    // the breaker rejection, where it happened: on an outbox dispatch span, under the request that wrote the record
    const rejected = trace.spans.find((s) => s.events.includes("breaker.rejected"));
    expect(rejected?.service, drawn).toBe("process-service");
    expect(rejected!.name).toStartWith("outbox dispatch");
    expect(ancestors(rejected!)).toContain("process-service server");
    // and the dispatch that went through reached task-service, still in this trace
    const taskServer = trace.spans.find((s) => s.service === "task-service" && s.kind === "server")!;
    expect(ancestors(taskServer), drawn).toEqual(expect.arrayContaining(["process-service client", "process-service server", "gateway client", "gateway server"]));

    // storage, where it happened: each service's store calls under that service's own spans
    const storage = (service: string) => trace.spans.filter((s) => s.service === service && s.tags["db.system.name"] === "sqlite");
    const under = (span: (typeof trace.spans)[number]) => `${byId.get(span.parentId ?? "")?.service} ${byId.get(span.parentId ?? "")?.kind}`;
    // the step's completion: the instance update (and the outbox records it queues) in one transaction, in the request
    const update = storage("process-service").find((s) => s.name === "UPDATE instances");
    expect(update, drawn).toBeDefined();
    expect(under(update!)).toBe("process-service server");
    expect(update!.tags).toMatchObject({ "db.operation.name": "UPDATE", "db.collection.name": "instances", "db.namespace": "process-service.db" });
    // the form's submission, stored by form-service while serving process-service's gRPC call
    const submitted = storage("form-service").find((s) => s.name === "INSERT submissions");
    expect(submitted && under(submitted), drawn).toBe("form-service server");
    // the dispatch records its outcome in the outbox, under its own span
    const delivered = storage("process-service").find((s) => s.name === "UPDATE outbox" && byId.get(s.parentId ?? "")?.name.startsWith("outbox dispatch"));
    expect(delivered, drawn).toBeDefined();
    // task-service's status change, under the server span of the dispatch's call
    const taskWrite = storage("task-service").find((s) => s.name === "UPDATE tasks");
    expect(taskWrite && under(taskWrite), drawn).toBe("task-service server");
    // every storage span is a leaf client span: nothing else hangs under a store call
    for (const s of [...storage("process-service"), ...storage("form-service"), ...storage("task-service")]) {
      expect(s.kind).toBe("client");
      expect(s.children).toEqual([]);
    }
  }, 120_000);
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
        expect((await fetch(url, { headers: await authHeaders(1) })).status).toBe(200);
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
    const h = await authHeaders(1);
    for (let i = 0; i < 20; i++) expect((await fetch(`${ts.url("task-service")}/api/tasks`, { headers: h })).status).toBe(200);
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
