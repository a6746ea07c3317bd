// Parent-based ratio sampling through the compiled binary: the edge decides, every role follows,
// so a sampled request's trace is complete and an unsampled one leaves no span anywhere.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { SamplingDecision, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import { authHeaders, postJson, startBpm, type BpmProcess } from "../support/bpm.ts";

interface CollectedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  service: string;
}

/** An OTLP/HTTP JSON collector in this process: keeps every span it is sent. */
const spans: CollectedSpan[] = [];
let collector: ReturnType<typeof Bun.serve>;
const started: BpmProcess[] = [];

beforeAll(() => {
  collector = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = (await req.json()) as {
        resourceSpans?: Array<{ resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans?: Array<{ spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string }> }> }>;
      };
      for (const rs of body.resourceSpans ?? []) {
        const service = rs.resource?.attributes?.find((a) => a.key === "service.name")?.value.stringValue ?? "?";
        for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) spans.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? "", name: s.name, service });
      }
      return Response.json({});
    },
  });
});

afterAll(async () => {
  await Promise.all(started.map((p) => p.stop().catch(() => p.kill())));
  collector?.stop(true);
});

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** Spans a process has exported and still holds, from its /metrics. */
async function exportState(p: BpmProcess, role: "gateway" | "task-service"): Promise<{ exported: number; queued: number }> {
  const text = await (await fetch(`${p.url(role)}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "m").exec(text)?.[1] ?? 0);
  return { exported: value("bpm_tracing_spans_exported_total"), queued: value("bpm_tracing_queued_spans") };
}

test("10% at the edge is 10% of whole chains: every span of a sampled request, none of an unsampled one", async () => {
  const ratio = 0.1;
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: String(ratio),
    OTEL_BSP_SCHEDULE_DELAY: "100",
  };
  const ts = await startBpm({ roles: ["task-service"], env });
  started.push(ts);
  const gw = await startBpm({
    roles: ["gateway"],
    env,
    ports: { "task-service": ts.ports["task-service"] },
    config: { gateway: { access_log: true, rate_limit: { requests: 100_000, window: "60s" } } },
  });
  started.push(gw);

  const n = 150;
  const headers = await authHeaders("5");
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await postJson(`${gw.url("gateway")}/api/tasks`, { title: `sampled ${i}`, user_id: 5 }, headers);
    expect(res.status).toBe(201);
    ids.push(((await res.json()) as { id: number }).id);
  }
  for (const id of ids.slice(0, 50)) expect((await fetch(`${gw.url("gateway")}/api/tasks/${id}`, { headers })).status).toBe(200);

  // every request's trace id, sampled or not, from the gateway's access log
  const logged = () =>
    gw
      .output()
      .split("\n")
      .filter((l) => l.includes('"path":"/api/tasks'))
      .map((l) => JSON.parse(l) as { trace_id?: string; path: string; method: string });
  await waitFor("the access log", () => logged().length === n + 50);
  const requests = logged();
  const traceIds = requests.map((r) => r.trace_id);
  for (const id of traceIds) expect(id).toMatch(/^[0-9a-f]{32}$/);
  expect(new Set(traceIds).size).toBe(n + 50);

  // all that was recorded has reached the collector
  await waitFor("the export", async () => {
    const [a, b] = await Promise.all([exportState(gw, "gateway"), exportState(ts, "task-service")]);
    return a.queued === 0 && b.queued === 0 && a.exported + b.exported === spans.length;
  });

  // the edge's decision, as the spec's ratio sampler makes it from the trace id
  const sampler = new TraceIdRatioBasedSampler(ratio);
  const expectSampled = new Set(traceIds.filter((id) => sampler.shouldSample(ROOT_CONTEXT, id!).decision === SamplingDecision.RECORD_AND_SAMPLED));
  expect(expectSampled.size).toBeGreaterThan(0);
  expect(expectSampled.size).toBeLessThan(n + 50);

  const byTrace = new Map<string, CollectedSpan[]>();
  for (const s of spans) byTrace.set(s.traceId, [...(byTrace.get(s.traceId) ?? []), s]);
  // no span of an unsampled request, and no trace started anywhere but at the edge
  expect([...byTrace.keys()].sort()).toEqual([...expectSampled].sort() as string[]);

  // each sampled request whole: gateway SERVER → gateway CLIENT → task-service SERVER → its storage span
  const method = new Map(requests.map((r) => [r.trace_id!, r.method]));
  for (const [traceId, got] of byTrace) {
    const write = method.get(traceId) === "POST";
    const shape = got.map((s) => `${s.service} ${s.name}`).sort();
    expect(shape).toEqual(
      (write
        ? ["gateway POST /api/tasks", "gateway POST /api/tasks", "task-service POST /api/tasks", "task-service INSERT tasks"]
        : ["gateway GET /api/tasks/:id", "gateway GET /api/tasks/:id", "task-service GET /api/tasks/:id", "task-service SELECT tasks"]
      ).sort(),
    );
    const root = got.filter((s) => s.parentSpanId === "");
    expect(root.map((s) => s.service)).toEqual(["gateway"]);
    // one chain: every other span's parent is in the trace
    const own = new Set(got.map((s) => s.spanId));
    for (const s of got) if (s !== root[0]) expect(own.has(s.parentSpanId)).toBe(true);
  }
}, 120_000);
