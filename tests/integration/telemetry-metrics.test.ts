// Every role's /metrics, scraped from the compiled binary, parsed and linted by Prometheus' own
// code (prometheus/common expfmt + client_golang promlint, built by scripts/tools.sh metricslint).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { authHeaders, postJson, startBpm, type BpmProcess } from "../support/bpm.ts";
import { toolPath } from "../support/servers.ts";

interface Series {
  labels: Record<string, string>;
  /** NaN and ±Inf arrive as strings (valid in the exposition, not in JSON). */
  value: number | "NaN" | "+Inf" | "-Inf";
  count?: number;
}
interface Family {
  name: string;
  type: string;
  help: string;
  series: Series[];
}
interface Linted {
  families: Family[];
  problems: Array<{ metric: string; text: string }>;
}

const ROLES = ["gateway", "task-service", "form-service", "process-service"] as const;

async function parse(exposition: string): Promise<Linted> {
  const proc = Bun.spawn([toolPath("metricslint")], { stdin: new TextEncoder().encode(exposition), stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`the exposition does not parse: ${err}`);
  return JSON.parse(out) as Linted;
}

let bpm: BpmProcess;
const scraped = new Map<string, { contentType: string; linted: Linted }>();

beforeAll(async () => {
  toolPath("metricslint");
  toolPath("grpcurl");
  bpm = await startBpm({ roles: [...ROLES] });
  // traffic with ids in the path, through the gateway and straight at the service
  const auth = await authHeaders("7");
  const created = await postJson(`${bpm.url("gateway")}/api/tasks`, { title: "metrics", user_id: 7 }, auth);
  const id = ((await created.json()) as { id: number }).id;
  for (let i = 0; i < 3; i++) {
    await fetch(`${bpm.url("gateway")}/api/tasks/${id}`, { headers: auth });
    await fetch(`${bpm.url("task-service")}/api/tasks/${id + 1000 + i}`, { headers: auth });
  }
  // one found and one missing task over gRPC, from a non-JS client
  for (const wanted of [id, 999_999]) {
    const grpcurl = Bun.spawn([toolPath("grpcurl"), "-plaintext", "-H", `authorization: ${auth.authorization}`, "-d", JSON.stringify({ id: wanted }), `127.0.0.1:${bpm.ports["task-service"].grpc}`, "taskservice.TaskService/GetTask"], { stdout: "ignore", stderr: "ignore" });
    await grpcurl.exited;
  }
  for (const role of ROLES) {
    const res = await fetch(`${bpm.url(role)}/metrics`);
    expect(res.status).toBe(200);
    scraped.set(role, { contentType: res.headers.get("content-type") ?? "", linted: await parse(await res.text()) });
  }
}, 60_000);

afterAll(async () => {
  await bpm?.stop();
});

const family = (role: string, name: string): Family | undefined => scraped.get(role)!.linted.families.find((f) => f.name === name);

describe("/metrics on every role is Prometheus text a real scraper accepts", () => {
  test.each([...ROLES])("%s: served as text exposition 0.0.4 and parsed strictly without error", (role) => {
    const s = scraped.get(role)!;
    expect(s.contentType).toStartWith("text/plain; version=0.0.4");
    expect(s.linted.families.length).toBeGreaterThan(20);
  });

  test.each([...ROLES])("%s: passes promtool's lint (naming, units, _total, help) but for prom-client's three Node-standard gauges", (role) => {
    // prom-client keeps Node's historical names for these gauges; everything else must be clean
    const known = new Set(["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]);
    const problems = scraped.get(role)!.linted.problems.filter((p) => !(known.has(p.metric) && p.text.includes('"_total" suffix')));
    expect(problems).toEqual([]);
  });

  test.each([...ROLES])("%s: RED, tracing health and runtime basics are there", (role) => {
    for (const name of [
      "bpm_http_requests_total",
      "bpm_http_request_duration_seconds",
      "bpm_tracing_spans_dropped_total",
      "bpm_tracing_spans_export_failed_total",
      "bpm_build_info",
      "process_resident_memory_bytes",
      "nodejs_eventloop_lag_seconds",
      "process_cpu_seconds_total",
    ]) {
      expect(family(role, name), `${role} lacks ${name}`).toBeDefined();
    }
    expect(family(role, "bpm_http_request_duration_seconds")!.type).toBe("histogram");
    expect(family(role, "bpm_tracing_spans_dropped_total")!.type).toBe("counter");
    expect(Number(family(role, "process_resident_memory_bytes")!.series[0]!.value)).toBeGreaterThan(1_000_000);
  });

  test("labels are bounded: route templates, never the ids the requests carried", () => {
    for (const role of ROLES) {
      for (const f of scraped.get(role)!.linted.families) {
        for (const s of f.series) {
          for (const [k, v] of Object.entries(s.labels)) {
            expect(`${f.name}{${k}="${v}"}`).not.toMatch(/\/\d+/);
          }
        }
      }
    }
    const routes = new Set(family("task-service", "bpm_http_requests_total")!.series.map((s) => s.labels.route));
    expect(routes).toContain("/api/tasks/:id");
    expect(routes).toContain("/api/tasks");
  });

  test("the gateway counts its proxied requests by route template and status", () => {
    const series = family("gateway", "bpm_http_requests_total")!.series.filter((s) => s.labels.role === "gateway");
    const byRoute = Object.fromEntries(series.map((s) => [`${s.labels.method} ${s.labels.route} ${s.labels.status}`, s.value]));
    expect(byRoute["POST /api/tasks 201"]).toBe(1);
    expect(byRoute["GET /api/tasks/:id 200"]).toBe(3);
  });

  test("the gateway reports each upstream instance, its breakers and what discovery offers", () => {
    const ts = bpm.ports["task-service"].http;
    const latency = family("gateway", "bpm_upstream_request_duration_seconds")!;
    expect(latency.type).toBe("histogram");
    const ok = latency.series.find((s) => s.labels.service === "task-service" && s.labels.outcome === "2xx")!;
    expect(ok.labels.instance_id).toContain(String(ts));
    expect(ok.count).toBe(4);
    expect(family("gateway", "bpm_upstream_requests_in_flight")!.series.every((s) => s.value === 0)).toBe(true);
    const breaker = family("gateway", "bpm_circuitbreaker_state")!.series.filter((s) => s.labels.name === "taskService" && s.value === 1);
    expect(breaker.map((s) => s.labels.state)).toEqual(["CLOSED"]);
    const discovered = Object.fromEntries(family("gateway", "bpm_discovery_instances")!.series.map((s) => [s.labels.service, s.value]));
    expect(discovered["task-service"]).toBe(1);
    expect(family("gateway", "bpm_discovery_up")!.series[0]!.value).toBe(1);
    // the pooled client: its keep-alive connections and pipelining
    const connections = Object.fromEntries(family("gateway", "bpm_gateway_upstream_connections")!.series.map((s) => [s.labels.state, s.value]));
    expect(connections.open).toBeGreaterThanOrEqual(1);
    expect(connections.idle).toBeLessThanOrEqual(connections.open!);
    expect(family("gateway", "bpm_gateway_upstream_pipelined_requests_total")!.type).toBe("counter");
    expect(family("gateway", "bpm_gateway_upstream_pipeline_refusals_total")!.series[0]!.value).toBe(0);
  });

  test("gRPC calls are counted per RPC with their status code", () => {
    const handled = family("task-service", "bpm_grpc_server_handled_total")!;
    expect(handled.type).toBe("counter");
    const codes = Object.fromEntries(handled.series.filter((s) => s.labels.method === "GetTask").map((s) => [s.labels.code, s.value]));
    expect(codes).toEqual({ OK: 1, NOT_FOUND: 1 });
    expect(handled.series.every((s) => s.labels.service === "taskservice.TaskService" && s.labels.role === "task-service")).toBe(true);
    const duration = family("task-service", "bpm_grpc_server_handling_seconds")!;
    expect(duration.type).toBe("histogram");
    expect(duration.series.find((s) => s.labels.method === "GetTask")!.count).toBe(2);
  });
});
