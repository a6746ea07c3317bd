import * as grpc from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import type { ServiceBalancers } from "../balancing/service-balancers.ts";
import type { ServiceInstance } from "../discovery/types.ts";
import { CORRELATION_HEADER } from "../platform/http.ts";
import type { Downstreams } from "./downstreams.ts";
import { NoHealthyInstanceError } from "./errors.ts";
import { grpcClientInterceptor } from "../telemetry/grpc-spans.ts";
import { grpcOutcome, processMetrics } from "../telemetry/metrics.ts";

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

  async unary<Res>(method: string, request: unknown, o: GrpcCallOptions = {}): Promise<Res> {
    const policies = this.opts.downstreams.get(this.opts.downstream);
    const lb = this.opts.balancers.get(this.opts.service);
    const deadline = o.deadline ?? Date.now() + DEFAULT_DEADLINE_MS;
    const signal = o.signal ?? new AbortController().signal;
    const tried = new Set<string>();
    const { breaker } = policies;
    if (this.opts.authorization !== undefined && o.metadata?.authorization === undefined) {
      const authorization = await this.opts.authorization();
      if (authorization !== undefined) o = { ...o, metadata: { ...o.metadata, authorization } };
    }

    const attempt = async (): Promise<Res> => {
      if (!breaker.tryAcquirePermission()) throw breaker.notPermittedError();
      const epoch = breaker.epoch;
      const lease = lb.pick({ exclude: tried.size ? tried : undefined });
      if (!lease.ok) {
        breaker.releasePermission(epoch);
        throw new NoHealthyInstanceError(this.opts.service, lease.reason, lease.retryAfterMs);
      }
      tried.add(lease.instance.id);
      const started = performance.now();
      const upstream = processMetrics().upstream(this.opts.service, lease.instance.id);
      upstream.begin();
      try {
        const res = await this.call<Res>(lease.instance, method, request, Math.min(deadline, Date.now() + policies.timeoutMs), o, signal);
        const ms = performance.now() - started;
        breaker.onResult(ms, false, epoch);
        upstream.end(ms / 1000, "ok");
        lease.release({ outcome: "success", latencyMs: ms });
        return res;
      } catch (err) {
        const ms = performance.now() - started;
        breaker.onErrorResult(ms, err, epoch, signal);
        const code = (err as grpc.ServiceError).code;
        upstream.end(ms / 1000, grpcOutcome(code));
        const outcome = signal.aborted ? "cancelled" : LOAD_CODES.has(code) ? "load" : INSTANCE_FAILURE_CODES.has(code) || code === undefined ? "failure" : "success";
        lease.release({ outcome, latencyMs: ms });
        throw err;
      }
    };
    return policies.retry.execute(attempt, signal, { deadline, idempotent: o.idempotent ?? false });
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
      const tracing = grpcClientInterceptor({ role: this.opts.role ?? "unknown", peerService: this.opts.service, address: instance.address, port });
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
