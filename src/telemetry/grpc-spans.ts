import { InterceptingCall, status as GrpcStatus, type Interceptor, type Metadata, type StatusObject } from "@grpc/grpc-js";
import { context, SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import type { Metrics } from "./metrics.ts";
import { extractContext, injectContext } from "./propagation.ts";
import { ATTR_ERROR_TYPE, ATTR_PEER_SERVICE, ATTR_RPC_GRPC_STATUS_CODE, ATTR_RPC_METHOD, ATTR_RPC_SERVICE, ATTR_RPC_SYSTEM, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from "./semconv.ts";
import { endSpan, NOOP_SPAN, startSpan, tracingEnabled } from "./tracing.ts";

/** Codes that are the server's failure (semantic conventions for gRPC server spans). */
const SERVER_ERROR_CODES = new Set([GrpcStatus.UNKNOWN, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.UNIMPLEMENTED, GrpcStatus.INTERNAL, GrpcStatus.UNAVAILABLE, GrpcStatus.DATA_LOSS]);

/**
 * Starts the SERVER span of one gRPC call, continuing the trace in its metadata
 * (`pkg.Service/Method`, rpc.* attributes). Run the handler in it with runInSpan and
 * finish with endGrpcServerSpan. Off: NOOP_SPAN.
 */
export function startGrpcServerSpan(role: string, service: string, method: string, metadata: Metadata): Span {
  if (!tracingEnabled) return NOOP_SPAN;
  return startSpan(`${service}/${method}`, {
    role,
    parent: extractContext(metadata),
    kind: SpanKind.SERVER,
    attributes: { [ATTR_RPC_SYSTEM]: "grpc", [ATTR_RPC_SERVICE]: service, [ATTR_RPC_METHOD]: method },
  });
}

/** Records the call's final status code on its server span and ends it. */
export function endGrpcServerSpan(span: Span, code: number, error?: unknown): void {
  if (span === NOOP_SPAN) return;
  span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, code);
  if (SERVER_ERROR_CODES.has(code)) {
    endSpan(span, error ?? GrpcStatus[code]);
    return;
  }
  span.end();
}

export interface GrpcClientInterceptorOptions {
  /** The calling role (metrics label; and whose service.name the spans carry). */
  role: string;
  /** The logical peer (discovery name), e.g. `task-service`. */
  peerService?: string;
  /** Where the channel points, for server.address/server.port. */
  address?: string;
  port?: number;
  /** The process's registry (RoleContext.metrics), where client RED metrics go. */
  metrics: Metrics;
}

function splitPath(path: string): [service: string, method: string] {
  const slash = path.lastIndexOf("/");
  return [path.slice(1, slash), path.slice(slash + 1)];
}

/**
 * A grpc-js client interceptor: every call (so every retry attempt, each being a new
 * call) gets a CLIENT span that is a child of the active context, traceparent in its
 * metadata, and client RED metrics. Pass it in the client's `interceptors` option.
 */
export function grpcClientInterceptor(opts: GrpcClientInterceptorOptions): Interceptor {
  const metrics = opts.metrics;
  return (options, nextCall) => {
    const [service, method] = splitPath(options.method_definition.path);
    const started = performance.now();
    // captured now: grpc-js may run start() later, outside the caller's async context
    const parent = context.active();
    const span = tracingEnabled
      ? startSpan(`${service}/${method}`, {
          parent,
          kind: SpanKind.CLIENT,
          attributes: {
            [ATTR_RPC_SYSTEM]: "grpc",
            [ATTR_RPC_SERVICE]: service,
            [ATTR_RPC_METHOD]: method,
            ...(opts.peerService ? { [ATTR_PEER_SERVICE]: opts.peerService } : {}),
            ...(opts.address ? { [ATTR_SERVER_ADDRESS]: opts.address } : {}),
            ...(opts.port ? { [ATTR_SERVER_PORT]: opts.port } : {}),
          },
        })
      : NOOP_SPAN;
    return new InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        if (span !== NOOP_SPAN) injectContext(trace.setSpan(parent, span), metadata);
        next(metadata, {
          onReceiveStatus(status: StatusObject, nextStatus: (s: StatusObject) => void) {
            const codeName = GrpcStatus[status.code] ?? String(status.code);
            metrics.grpcClientRequests.labels(opts.role, service, method, codeName).inc();
            metrics.grpcClientDuration.labels(opts.role, service, method).observe((performance.now() - started) / 1000);
            if (span !== NOOP_SPAN) {
              span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, status.code);
              // client spans: every non-OK status is an error
              if (status.code !== GrpcStatus.OK) {
                span.setAttribute(ATTR_ERROR_TYPE, codeName);
                span.setStatus({ code: SpanStatusCode.ERROR, message: status.details });
              }
              span.end();
            }
            nextStatus(status);
          },
        });
      },
    });
  };
}
