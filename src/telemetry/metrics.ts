import * as prom from "prom-client";

/**
 * One Prometheus registry per process. Labels stay bounded: route templates
 * (never raw paths or ids), RPC method names, downstream names, status classes.
 */
export class Metrics {
  readonly registry = new prom.Registry();

  readonly httpRequests = new prom.Counter({
    name: "bpm_http_requests_total",
    help: "HTTP requests served, by role, method, route template and status code.",
    labelNames: ["role", "method", "route", "status"] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new prom.Histogram({
    name: "bpm_http_request_duration_seconds",
    help: "HTTP request duration until the response head is sent.",
    labelNames: ["role", "method", "route"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly grpcRequests = new prom.Counter({
    name: "bpm_grpc_server_handled_total",
    help: "gRPC calls handled, by role, service, method and status code.",
    labelNames: ["role", "service", "method", "code"] as const,
    registers: [this.registry],
  });
  readonly grpcDuration = new prom.Histogram({
    name: "bpm_grpc_server_handling_seconds",
    help: "gRPC call duration (unary: until the reply; streams: until the stream ends).",
    labelNames: ["role", "service", "method"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60],
    registers: [this.registry],
  });
  readonly build = new prom.Gauge({
    name: "bpm_build_info",
    help: "Constant 1, labelled with the running version and roles.",
    labelNames: ["version", "roles"] as const,
    registers: [this.registry],
  });

  constructor() {
    prom.collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

let shared: Metrics | undefined;
/** The process-wide registry; every role in this process reports into it. */
export function processMetrics(): Metrics {
  return (shared ??= new Metrics());
}
