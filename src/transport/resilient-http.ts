import type { LoadBalancer } from "../balancing/balancer.ts";
import type { Lease } from "../balancing/lease.ts";
import { UpstreamTimeoutError } from "../platform/errors.ts";
import type { DownstreamPolicies } from "./downstreams.ts";
import { proxyRequest, proxyRequestWire, type ProxyOptions } from "./http-proxy.ts";

import { NoHealthyInstanceError } from "./errors.ts";
import type { Http1Client, WireResponse } from "./http1/index.ts";
import type { InboundRequest, UrlParts } from "./inbound.ts";
import { endHttpClientSpan, injectTraceHeaders, startHttpClientSpan } from "../telemetry/http-spans.ts";
import { processMetrics, statusClass } from "../telemetry/metrics.ts";
import { tracingEnabled } from "../telemetry/tracing.ts";

export interface ForwardRequest {
  req: InboundRequest;
  url: UrlParts;
  /** Absolute deadline (epoch ms) for the whole call, retries and backoff included. */
  deadline: number;
  /** May this request be repeated (idempotent method or Idempotency-Key)? */
  idempotent: boolean;
  stickyId?: string;
  /** Headers every attempt carries (correlation id, identity, the X-Request-Deadline). */
  setHeaders: Record<string, string>;
  stripHeaders: readonly string[];
  clientIp?: string;
  /** The pooled HTTP/1.1 client; fetch() when absent. */
  client?: Http1Client;
  /** With `client`: the response as the client's WireResponse, for the raw front to write as it is. */
  wire?: boolean;
  /** Route template (`/api/tasks/:id`), for the attempt spans' names. */
  route?: string;
  /** Written by `forward`: the last attempt's lease (the instance that answered, or failed last). */
  lease?: Lease;
  /** Written by `forward`: attempts made so far. */
  attempts?: number;
}

/**
 * Forwards one HTTP request to a service: Retry(CircuitBreaker(TimeLimiter(balanced call))).
 * Each attempt picks an instance not tried yet; 5xx and connection errors count against the
 * breaker and the instance; 429 is load (the instance backs off, the breaker does not care).
 * The lease of the last attempt and the number of attempts are written to `f`. Not async
 * itself: the common call is the retry policy's promise (or the one attempt's), no wrapper.
 */
export function forward(lb: LoadBalancer, policies: DownstreamPolicies, f: ForwardRequest): Promise<Response | WireResponse> {
  // a body can only be sent twice if we hold it; streams pass through when no retry is possible
  const mayRetry = f.idempotent && policies.retry.config.maxAttempts > 1;
  const hasBody = f.req.body !== null && f.req.method !== "GET" && f.req.method !== "HEAD";
  if (hasBody && mayRetry) return f.req.arrayBuffer().then((held) => send(lb, policies, f, held, true));
  return send(lb, policies, f, hasBody ? f.req.body : null, mayRetry);
}

function send(lb: LoadBalancer, policies: DownstreamPolicies, f: ForwardRequest, body: ArrayBuffer | ReadableStream | null, mayRetry: boolean): Promise<Response | WireResponse> {
  const { breaker, retry } = policies;
  // instances tried so far, made on the first retry (most calls never need it)
  let tried: Set<string> | undefined;
  f.attempts = 0;
  const callerSignal = f.req.signal;

  const attempt = async (): Promise<Response | WireResponse> => {
    const attempts = (f.attempts = f.attempts! + 1);
    if (!breaker.tryAcquirePermission()) throw breaker.notPermittedError();
    const epoch = breaker.epoch;
    if (f.lease !== undefined) (tried ??= new Set()).add(f.lease.instance.id);
    const lease = lb.pick({ stickyId: f.stickyId, exclude: tried });
    if (!lease.ok) {
      breaker.releasePermission(epoch);
      throw new NoHealthyInstanceError(lb.service, lease.reason, lease.retryAfterMs);
    }
    f.lease = lease;
    const remaining = f.deadline - Date.now();
    const budget = Math.min(policies.timeoutMs, remaining);
    const started = performance.now();
    // one CLIENT span per attempt (a retry is a sibling), its traceparent sent upstream
    const span = startHttpClientSpan({ service: lb.service, method: f.req.method, route: f.route, address: lease.instance.address, port: lease.instance.port, resendCount: attempts - 1 });
    let setHeaders = f.setHeaders;
    if (tracingEnabled) {
      setHeaders = { ...f.setHeaders };
      injectTraceHeaders(setHeaders, span);
    }
    const upstream = processMetrics().upstream(lb.service, lease.instance.id);
    upstream.begin();
    const timeoutMs = Math.max(0, budget);
    // The pooled client keeps the deadline itself (one timer for all requests) and listens to the
    // caller's signal; fetch() needs an AbortController of its own for both.
    let ac: AbortController | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onCallerAbort: (() => void) | undefined;
    if (f.client === undefined) {
      const own = (ac = new AbortController());
      onCallerAbort = () => own.abort(callerSignal.reason);
      callerSignal.addEventListener("abort", onCallerAbort, { once: true });
      timer = setTimeout(() => own.abort(new UpstreamTimeoutError(`${lb.service} did not answer within ${Math.round(timeoutMs)} ms`)), timeoutMs);
    }
    try {
      const opts: ProxyOptions = { body, setHeaders, stripHeaders: f.stripHeaders, signal: ac?.signal ?? callerSignal, clientIp: f.clientIp, client: f.client, timeoutMs: Math.max(1, timeoutMs), timeoutLabel: lb.service };
      const res = f.wire === true && f.client !== undefined ? await proxyRequestWire(f.client, f.req, f.url, lease.instance, opts) : await proxyRequest(f.req, f.url, lease.instance, opts);
      // the timeout guards the response head only: streams (SSE) may run long after it
      if (timer !== undefined) clearTimeout(timer);
      const ms = performance.now() - started;
      const failed = res.status >= 500;
      endHttpClientSpan(span, { status: res.status });
      upstream.end(ms / 1000, statusClass(res.status));
      breaker.onResult(ms, failed, epoch);
      if (res.status === 429) {
        const ra = Number(res.headers.get("retry-after"));
        lease.release({ outcome: "load", latencyMs: ms, retryAfterMs: Number.isFinite(ra) && ra > 0 ? ra * 1000 : undefined });
      } else {
        lease.release({ outcome: failed ? "failure" : "success", latencyMs: ms });
      }
      return res;
    } catch (err) {
      if (timer !== undefined) clearTimeout(timer);
      const ms = performance.now() - started;
      endHttpClientSpan(span, { error: err });
      upstream.end(ms / 1000, callerSignal.aborted ? "cancelled" : err instanceof UpstreamTimeoutError ? "timeout" : "error");
      breaker.onErrorResult(ms, err, epoch, callerSignal);
      lease.release({ outcome: callerSignal.aborted ? "cancelled" : "failure", latencyMs: ms });
      throw err;
    } finally {
      if (onCallerAbort !== undefined) callerSignal.removeEventListener("abort", onCallerAbort);
    }
  };

  return mayRetry ? retry.execute(attempt, callerSignal, { deadline: f.deadline, idempotent: true }) : attempt();
}
