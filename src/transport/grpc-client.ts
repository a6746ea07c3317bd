import * as grpc from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import type { ServiceBalancers } from "../balancing/service-balancers.ts";
import type { ServiceInstance } from "../discovery/types.ts";
import { CORRELATION_HEADER } from "../platform/http.ts";
import type { Downstreams } from "./downstreams.ts";
import type { LoadBalancer } from "../balancing/balancer.ts";
import { NoHealthyInstanceError } from "./errors.ts";
import { grpcClientInterceptor } from "../telemetry/grpc-spans.ts";
import { grpcOutcome } from "../telemetry/metrics.ts";

export interface GrpcCallOptions {
  /** Absolute deadline (epoch ms) for the whole call, retries included. */
  deadline?: number;
  /** Safe to repeat? Reads are; creates are when they carry an idempotency key. */
  idempotent?: boolean;
  signal?: AbortSignal;
  correlationId?: string;
  metadata?: Record<string, string>;
}

type UnaryMethod = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => grpc.ClientUnaryCall;

const DEFAULT_DEADLINE_MS = 10_000;
const LOAD_CODES = new Set([grpc.status.RESOURCE_EXHAUSTED]);
const INSTANCE_FAILURE_CODES = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DATA_LOSS]);

/**
 * A service→service gRPC client with the same guarantees as the gateway's HTTP hop:
 * instances from discovery, one balancer per service, Retry(CircuitBreaker(deadline(call))),
 * and the caller's remaining time sent as the gRPC deadline.
 */
export class ResilientGrpcClient {
  private readonly clients = new Map<string, grpc.Client>();
  private readonly ctor: grpc.ServiceClientConstructor;

  constructor(
    private readonly opts: {
      /** Discovery name, e.g. "task-service". */
      service: string;
      /** Resilience instance name, e.g. "taskService". */
      downstream: string;
      definition: PackageDefinition;
      /** Fully qualified proto service, e.g. "taskservice.TaskService". */
      protoService: string;
      balancers: ServiceBalancers;
      downstreams: Downstreams;
      /** The calling role, for client metrics and spans. */
      role?: string;
      /** This role's own credential (`authorization` metadata) for calls that do not carry one of their own. */
      authorization?: () => Promise<string | undefined>;
      /** TLS (verifying the peer against a CA) or plaintext when absent. */
      channelCredentials?: () => grpc.ChannelCredentials;
      /** More channel options (e.g. the TLS name to check). */
      channelOptions?: grpc.ChannelOptions;
    },
  ) {
    const def = opts.definition[opts.protoService];
    if (!def) throw new Error(`unknown proto service ${opts.protoService}`);
    this.ctor = grpc.makeGenericClientConstructor(def as grpc.ServiceDefinition, opts.protoService);
  }

  /**
   * One call through the downstream's pipeline, built from config in Resilience4j's order:
   * Retry(CircuitBreaker(RateLimiter(TimeLimiter(Bulkhead(attempt))))), the last two only
   * when configured. Each attempt prefers an instance not tried yet.
   */
  async unary<Res>(method: string, request: unknown, o: GrpcCallOptions = {}): Promise<Res> {
    const downstreams = this.opts.downstreams;
    downstreams.get(this.opts.downstream);
    const pipeline = downstreams.registry.pipeline(this.opts.downstream);
    const lb = this.opts.balancers.get(this.opts.service);
    const deadline = o.deadline ?? Date.now() + DEFAULT_DEADLINE_MS;
    const callerSignal = o.signal ?? new AbortController().signal;
    const tried = new Set<string>();
    if (this.opts.authorization !== undefined && o.metadata?.authorization === undefined) {
      const authorization = await this.opts.authorization();
      if (authorization !== undefined) o = { ...o, metadata: { ...o.metadata, authorization } };
    }
    const attempt = (signal: AbortSignal) => this.attempt<Res>(lb, tried, method, request, deadline, o, signal, callerSignal);
    return pipeline.execute(attempt, callerSignal, { deadline, idempotent: o.idempotent ?? false });
  }

  private async attempt<Res>(lb: LoadBalancer, tried: Set<string>, method: string, request: unknown, deadline: number, o: GrpcCallOptions, signal: AbortSignal, callerSignal: AbortSignal): Promise<Res> {
    let lease = lb.pick({ exclude: tried.size ? tried : undefined });
    // another instance is preferred (Envoy's default), not required: with none left, the same one again
    if (!lease.ok && lease.reason === "all_excluded") lease = lb.pick();
    if (!lease.ok) throw new NoHealthyInstanceError(this.opts.service, lease.reason, lease.retryAfterMs);
    tried.add(lease.instance.id);
    const started = performance.now();
    const upstream = this.opts.downstreams.metrics.upstream(this.opts.service, lease.instance.id);
    upstream.begin();
    try {
      const res = await this.call<Res>(lease.instance, method, request, deadline, o, signal);
      const ms = performance.now() - started;
      upstream.end(ms / 1000, "ok");
      lease.release({ outcome: "success", latencyMs: ms });
      return res;
    } catch (err) {
      const ms = performance.now() - started;
      const code = (err as grpc.ServiceError).code;
      upstream.end(ms / 1000, grpcOutcome(code));
      // the time limiter's abort is the instance being slow; the caller's is nobody's fault
      const outcome = callerSignal.aborted ? "cancelled" : signal.aborted || LOAD_CODES.has(code) ? (signal.aborted ? "failure" : "load") : INSTANCE_FAILURE_CODES.has(code) || code === undefined ? "failure" : "success";
      lease.release({ outcome, latencyMs: ms });
      throw err;
    }
  }

  private call<Res>(instance: ServiceInstance, method: string, request: unknown, deadline: number, o: GrpcCallOptions, signal: AbortSignal): Promise<Res> {
    const client = this.clientFor(instance);
    const fn = (client as unknown as Record<string, UnaryMethod>)[method];
    if (!fn) return Promise.reject(new Error(`${this.opts.protoService} has no method ${method}`));
    const md = new grpc.Metadata();
    if (o.correlationId) md.set(CORRELATION_HEADER, o.correlationId);
    for (const [k, val] of Object.entries(o.metadata ?? {})) md.set(k, val);
    return new Promise<Res>((resolve, reject) => {
      const call = fn.call(client, request, md, { deadline: new Date(deadline) }, (err, res) => {
        signal.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(res as Res);
      });
      const onAbort = () => call.cancel();
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private clientFor(instance: ServiceInstance): grpc.Client {
    const port = instance.grpcPort ?? Number(instance.meta.grpc_port);
    const target = `${instance.address}:${port}`;
    let c = this.clients.get(target);
    if (!c) {
      // each call (so each retry attempt) gets a client span and carries traceparent in its metadata
      const tracing = grpcClientInterceptor({ metrics: this.opts.downstreams.metrics, role: this.opts.role ?? "unknown", peerService: this.opts.service, address: instance.address, port });
      c = new this.ctor(target, this.opts.channelCredentials?.() ?? grpc.credentials.createInsecure(), {
        "grpc.keepalive_time_ms": 30_000,
        "grpc.enable_retries": 0,
        "grpc.initial_reconnect_backoff_ms": 200,
        "grpc.max_reconnect_backoff_ms": 2_000,
        ...this.opts.channelOptions,
        interceptors: [tracing],
      });
      this.clients.set(target, c);
    }
    return c;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
