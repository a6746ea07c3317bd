// A real Jaeger v2 (in-memory storage) for tests: OTLP/HTTP in, query API out, free ports.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePorts } from "./ports.ts";
import { makeTempDir, probeFetch, removeTempDir, spawnLogged, waitFor } from "./process.ts";
import { toolPath } from "./tools.ts";

export interface JaegerServer {
  /** Base of the OTLP/HTTP receiver, e.g. http://127.0.0.1:PORT (POST /v1/traces); the value for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly otlpHttpEndpoint: string;
  /** Base of the query API and UI: GET /api/services, /api/traces?service=…, /api/traces/{traceId}. */
  readonly queryUrl: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

// Only what tests need: no UDP/Zipkin/gRPC receivers, no sampling server, no self-metrics on :8888,
// no self-tracing to localhost:4317 (which another program may own).
function config(otlpHttp: number, queryHttp: number, queryGrpc: number): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: info
extensions:
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    http:
      endpoint: 127.0.0.1:${queryHttp}
    grpc:
      endpoint: 127.0.0.1:${queryGrpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlpHttp}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

/** Starts Jaeger v2 with in-memory storage; resolves when both the OTLP receiver and the query API answer. */
export async function startJaeger(options: { readyTimeoutMs?: number } = {}): Promise<JaegerServer> {
  const jaeger = toolPath("jaeger");
  const dir = makeTempDir("jaeger");
  const [otlpHttp, queryHttp, queryGrpc] = (await freePorts(3)) as [number, number, number];
  const configFile = join(dir, "jaeger.yaml");
  writeFileSync(configFile, config(otlpHttp, queryHttp, queryGrpc));
  const logFile = join(dir, "jaeger.log");
  const server = spawnLogged({ name: "jaeger", cmd: [jaeger, "--config", configFile], logFile });
  const otlpHttpEndpoint = `http://127.0.0.1:${otlpHttp}`;
  const queryUrl = `http://127.0.0.1:${queryHttp}`;
  await waitFor(
    async () => {
      const services = await probeFetch(`${queryUrl}/api/services`);
      if (!services.ok) return undefined;
      const otlp = await probeFetch(`${otlpHttpEndpoint}/v1/traces`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ resourceSpans: [] }),
      });
      return otlp.ok ? true : undefined;
    },
    { what: `jaeger (otlp ${otlpHttpEndpoint}, query ${queryUrl})`, timeoutMs: options.readyTimeoutMs ?? 30_000, process: server },
  );
  return {
    otlpHttpEndpoint,
    queryUrl,
    logFile,
    async stop() {
      await server.stop("SIGTERM");
      removeTempDir(dir);
    },
  };
}
