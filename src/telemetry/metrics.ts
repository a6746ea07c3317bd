import * as prom from "prom-client";
import { registerResilienceMetrics } from "../resilience/prometheus.ts";
import type { Http1ClientStats } from "../transport/http1/types.ts";
import { HotCounter, HotGauge, type HotGaugeChild, HotHistogram, type HotHistogramChild } from "./hot-metrics.ts";
import type { ResilienceRegistry } from "../resilience/registry.ts";

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What an outbox reports at scrape time. */
export interface OutboxStats {
  /** Records written but not yet dispatched. */
  pending: number;
  /** created_at (epoch ms) of the oldest pending record; undefined when none is pending. */
  oldestCreatedAtMs?: number;
}

/** Per-instance upstream series, bound once so the per-call cost is two property lookups. */
export class UpstreamInstrument {
  private readonly byOutcome = new Map<string, HotHistogramChild>();

  constructor(
    private readonly inflight: HotGaugeChild,
    private readonly duration: HotHistogram<"service" | "instance_id" | "outcome">,
    readonly service: string,
    readonly instanceId: string,
  ) {}

  /** A call to this instance started. */
  begin(): void {
    this.inflight.inc();
  }

  /** The call ended after `seconds`: outcome from statusClass or grpcOutcome, or `error`/`timeout`/`cancelled`. */
  end(seconds: number, outcome: string): void {
    this.inflight.dec();
    let h = this.byOutcome.get(outcome);
    if (!h) this.byOutcome.set(outcome, (h = this.duration.labels(this.service, this.instanceId, outcome)));
    h.observe(seconds);
  }

  /** Outcomes seen so far (to remove their series). */
  outcomes(): string[] {
    return [...this.byOutcome.keys()];
  }
}

/** `2xx`…`5xx` for an HTTP status: the bounded outcome label. */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : "error";
}

/** The outcome label of a finished gRPC call: `ok`, `timeout`, `cancelled` or `error`. */
export function grpcOutcome(code: number): string {
  // 0 OK, 1 CANCELLED, 4 DEADLINE_EXCEEDED (grpc-js status numbers)
  return code === 0 ? "ok" : code === 4 ? "timeout" : code === 1 ? "cancelled" : "error";
}

/**
 * One Prometheus registry per process. Labels stay bounded: route templates
 * (never raw paths or ids), RPC method names, downstream names, instance ids
 * of discovered upstreams, status classes.
 */
export class Metrics {
  readonly registry = new prom.Registry();

  // ---- RED: served HTTP and gRPC ------------------------------------------------------
  readonly httpRequests = new HotCounter({
    name: "bpm_http_requests_total",
    help: "HTTP requests served, by role, method, route template and status code.",
    labelNames: ["role", "method", "route", "status"] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new HotHistogram({
    name: "bpm_http_request_duration_seconds",
    help: "HTTP request duration until the response head is sent.",
    labelNames: ["role", "method", "route"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly grpcRequests = new HotCounter({
    name: "bpm_grpc_server_handled_total",
    help: "gRPC calls handled, by role, service, method and status code.",
    labelNames: ["role", "service", "method", "code"] as const,
    registers: [this.registry],
  });
  readonly grpcDuration = new HotHistogram({
    name: "bpm_grpc_server_handling_seconds",
    help: "gRPC call duration (unary: until the reply; streams: until the stream ends).",
    labelNames: ["role", "service", "method"] as const,
    buckets: [...LATENCY_BUCKETS, 60],
    registers: [this.registry],
  });

  // ---- RED: outgoing gRPC (client interceptor) -------------------------------------------
  readonly grpcClientRequests = new HotCounter({
    name: "bpm_grpc_client_handled_total",
    help: "gRPC calls made (each attempt counts), by calling role, service, method and status code.",
    labelNames: ["role", "service", "method", "code"] as const,
    registers: [this.registry],
  });
  readonly grpcClientDuration = new HotHistogram({
    name: "bpm_grpc_client_handling_seconds",
    help: "gRPC call duration seen by the caller, per attempt.",
    labelNames: ["role", "service", "method"] as const,
    buckets: [...LATENCY_BUCKETS, 60],
    registers: [this.registry],
  });

  // ---- upstream instances (gateway and transport) ----------------------------------------
  readonly upstreamInFlight = new HotGauge({
    name: "bpm_upstream_requests_in_flight",
    help: "Calls in flight to one upstream instance.",
    labelNames: ["service", "instance_id"] as const,
    registers: [this.registry],
  });
  readonly upstreamDuration = new HotHistogram({
    name: "bpm_upstream_request_duration_seconds",
    help: "Duration of calls to one upstream instance until the response head, by outcome (HTTP status class, or ok for gRPC; error, timeout, cancelled).",
    labelNames: ["service", "instance_id", "outcome"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  /** Per service, per instance id: found without making a key string per request. */
  private readonly upstreams = new Map<string, Map<string, UpstreamInstrument>>();

  // ---- resilience ----------------------------------------------------------------------------
  // Breakers, retries, budgets, time limiters, bulkheads and rate limiters report through
  // src/resilience/prometheus.ts (registerResilience below); these are what it does not cover.
  readonly fallbacks = new prom.Counter({
    name: "bpm_fallbacks_total",
    help: "Responses served by a fallback instead of the live call, by source (cache, default).",
    labelNames: ["name", "source"] as const,
    registers: [this.registry],
  });
  readonly outlierEjections = new prom.Counter({
    name: "bpm_outlier_ejections_total",
    help: "Upstream instances taken out of rotation by outlier detection.",
    labelNames: ["service"] as const,
    registers: [this.registry],
  });
  readonly outlierEjectionsSkipped = new prom.Counter({
    name: "bpm_outlier_ejections_skipped_total",
    help: "Ejections that were due but refused by max_ejection_percent.",
    labelNames: ["service"] as const,
    registers: [this.registry],
  });
  readonly upstreamHealthTransitions = new prom.Counter({
    name: "bpm_upstream_health_transitions_total",
    help: "Active health check verdict changes of upstream instances, by service and new verdict.",
    labelNames: ["service", "healthy"] as const,
    registers: [this.registry],
  });

  // ---- discovery ---------------------------------------------------------------------------
  private readonly discoverySources: Array<() => Iterable<readonly [service: string, instances: number]>> = [];
  readonly discoveryInstances = new prom.Gauge({
    name: "bpm_discovery_instances",
    help: "Instances discovery currently offers, by service.",
    labelNames: ["service"] as const,
    registers: [this.registry],
    collect: () => {
      for (const source of this.discoverySources) for (const [service, n] of source()) this.discoveryInstances.labels(service).set(n);
    },
  });
  private discoveryUpSource: (() => boolean) | undefined;
  readonly discoveryUp = new prom.Gauge({
    name: "bpm_discovery_up",
    help: "1 while the discovery source answers (Consul reachable, or static config), 0 while serving a stale set.",
    registers: [this.registry],
    collect: () => {
      if (this.discoveryUpSource) this.discoveryUp.set(this.discoveryUpSource() ? 1 : 0);
    },
  });
  readonly discoveryErrors = new prom.Counter({
    name: "bpm_discovery_errors_total",
    help: "Failed calls to the discovery source (e.g. Consul), by source and operation.",
    labelNames: ["source", "operation"] as const,
    registers: [this.registry],
  });

  // ---- outbox ------------------------------------------------------------------------------
  private readonly outboxes = new Map<string, () => OutboxStats | Promise<OutboxStats>>();
  readonly outboxPending = new prom.Gauge({
    name: "bpm_outbox_pending_records",
    help: "Outbox records written but not yet dispatched, by role.",
    labelNames: ["role"] as const,
    registers: [this.registry],
    collect: () => this.refreshOutboxes(),
  });
  readonly outboxOldestAge = new prom.Gauge({
    name: "bpm_outbox_oldest_pending_age_seconds",
    help: "Age of the oldest undispatched outbox record (0 when none is pending), by role.",
    labelNames: ["role"] as const,
    registers: [this.registry],
    collect: () => this.refreshOutboxes(),
  });
  /** Both outbox gauges wait for the same storage read per scrape. */
  private outboxRefresh: Promise<void> | undefined;
  readonly outboxDispatched = new prom.Counter({
    name: "bpm_outbox_dispatched_total",
    help: "Outbox dispatch attempts, by role and outcome (delivered, failed).",
    labelNames: ["role", "outcome"] as const,
    registers: [this.registry],
  });

  // ---- the gateway's pooled upstream client ---------------------------------------------------
  private upstreamClientStats: (() => Http1ClientStats) | undefined;
  readonly upstreamConnections = new prom.Gauge({
    name: "bpm_gateway_upstream_connections",
    help: "Keep-alive connections of the gateway's pooled client to instances, by state (open includes idle).",
    labelNames: ["state"] as const,
    registers: [this.registry],
    collect: () => {
      const stats = this.upstreamClientStats?.();
      if (stats === undefined) return;
      this.upstreamConnections.labels("open").set(stats.open);
      this.upstreamConnections.labels("idle").set(stats.idle);
    },
  });
  readonly upstreamPipelined: prom.Counter = new prom.Counter({
    name: "bpm_gateway_upstream_pipelined_requests_total",
    help: "Requests the gateway sent to an instance behind another on one connection (HTTP/1.1 pipelining).",
    registers: [this.registry],
    collect: (): void => this.setCounter(this.upstreamPipelined, this.upstreamClientStats?.().pipelined),
  });
  readonly upstreamPipelineRefusals: prom.Counter = new prom.Counter({
    name: "bpm_gateway_upstream_pipeline_refusals_total",
    help: "Connections an instance closed before answering pipelined requests (they were resent one per connection; pipelining paused for it).",
    registers: [this.registry],
    collect: (): void => this.setCounter(this.upstreamPipelineRefusals, this.upstreamClientStats?.().pipelineRefusals),
  });

  // ---- tracing's own health ------------------------------------------------------------------
  readonly tracingSpansExported = new prom.Counter({
    name: "bpm_tracing_spans_exported_total",
    help: "Spans the trace backend accepted.",
    registers: [this.registry],
  });
  readonly tracingSpansExportFailed = new prom.Counter({
    name: "bpm_tracing_spans_export_failed_total",
    help: "Spans lost because their export failed (backend down, refused or too slow).",
    registers: [this.registry],
  });
  readonly tracingSpansDropped = new prom.Counter({
    name: "bpm_tracing_spans_dropped_total",
    help: "Spans dropped before export because the bounded export queue was full.",
    registers: [this.registry],
  });
  private traceQueue: (() => number) | undefined;
  readonly tracingQueueSize = new prom.Gauge({
    name: "bpm_tracing_queued_spans",
    help: "Finished spans waiting for export.",
    registers: [this.registry],
    collect: () => {
      if (this.traceQueue) this.tracingQueueSize.set(this.traceQueue());
    },
  });

  readonly build = new prom.Gauge({
    name: "bpm_build_info",
    help: "Constant 1, labelled with the running version and roles.",
    labelNames: ["version", "roles"] as const,
    registers: [this.registry],
  });

  constructor() {
    // runtime basics: RSS, CPU, heap, event-loop lag, open fds
    prom.collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The series of one upstream instance, made on first use and reused after. */
  upstream(service: string, instanceId: string): UpstreamInstrument {
    let byId = this.upstreams.get(service);
    if (byId === undefined) {
      byId = new Map();
      this.upstreams.set(service, byId);
    }
    let u = byId.get(instanceId);
    if (!u) {
      u = new UpstreamInstrument(this.upstreamInFlight.labels(service, instanceId), this.upstreamDuration, service, instanceId);
      byId.set(instanceId, u);
    }
    return u;
  }

  /** Drops an instance's series once discovery no longer lists it, so churn does not grow /metrics forever. */
  forgetUpstream(service: string, instanceId: string): void {
    const u = this.upstreams.get(service)?.get(instanceId);
    if (!u) return;
    this.upstreams.get(service)!.delete(instanceId);
    this.upstreamInFlight.remove(service, instanceId);
    for (const outcome of u.outcomes()) this.upstreamDuration.remove(service, instanceId, outcome);
  }

  /**
   * The resilience policies' collectors (bpm_circuitbreaker_*, bpm_retry_*, bpm_ratelimiter_*…).
   * One ResilienceRegistry per process: roles sharing a process share it, so each downstream
   * has one breaker and its series appear once.
   */
  registerResilience(resilience: ResilienceRegistry): void {
    if (this.resilience === resilience) return;
    if (this.resilience) throw new Error("one ResilienceRegistry per process: pass the same one to every role");
    registerResilienceMetrics(this.registry, resilience);
    this.resilience = resilience;
  }
  private resilience: ResilienceRegistry | undefined;

  /** Reports instance counts per service on every scrape. */
  watchDiscovery(instances: () => Iterable<readonly [service: string, instances: number]>, up?: () => boolean): void {
    this.discoverySources.push(instances);
    if (up) this.discoveryUpSource = up;
  }

  /** Reports a role's outbox backlog on every scrape; `stats` may query storage. */
  watchOutbox(role: string, stats: () => OutboxStats | Promise<OutboxStats>): void {
    this.outboxes.set(role, stats);
  }

  /** Reports the gateway's pooled client (connections, pipelining) on every scrape. */
  watchUpstreamClient(stats: () => Http1ClientStats): void {
    this.upstreamClientStats = stats;
  }

  /** A counter kept elsewhere, copied in at scrape time. */
  private setCounter(counter: prom.Counter, value: number | undefined): void {
    if (value === undefined) return;
    counter.reset();
    counter.inc(value);
  }

  /** @internal tracing.ts reports its queue through this. */
  traceQueueSize(size: () => number): void {
    this.traceQueue = size;
  }

  private refreshOutboxes(): Promise<void> {
    this.outboxRefresh ??= this.readOutboxes().finally(() => {
      this.outboxRefresh = undefined;
    });
    return this.outboxRefresh;
  }

  private async readOutboxes(): Promise<void> {
    await Promise.all(
      [...this.outboxes].map(async ([role, stats]) => {
        try {
          const s = await stats();
          this.outboxPending.labels(role).set(s.pending);
          // the age when the store answered: a clock read before the query made it up to the query's time too young
          this.outboxOldestAge.labels(role).set(s.oldestCreatedAtMs === undefined ? 0 : Math.max(0, (Date.now() - s.oldestCreatedAtMs) / 1000));
        } catch {
          // a failing store shows as a missing sample, not a failed scrape
          this.outboxPending.remove(role);
          this.outboxOldestAge.remove(role);
        }
      }),
    );
  }
}

