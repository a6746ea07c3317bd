import type { LoadBalancer, PickResult } from "../balancing/balancer.ts";
import type { Lease } from "../balancing/lease.ts";
import { admitLocal, type DownstreamPolicies, releaseLocal } from "./downstreams.ts";
import { proxyRequest, proxyRequestWire, proxyWireTo, type ProxyOptions } from "./http-proxy.ts";
import { defaultErrorClassifier, isFailedResponse } from "../resilience/outcome.ts";
import { NoHealthyInstanceError } from "./errors.ts";
import type { Http1Client, WireResponse } from "./http1/index.ts";
import type { ExchangeSink } from "./http1/exchange.ts";
import type { InboundRequest, UrlParts } from "./inbound.ts";
import { endHttpClientSpan, injectTraceHeaders, startHttpClientSpan } from "../telemetry/http-spans.ts";
import { statusClass, type UpstreamInstrument } from "../telemetry/metrics.ts";
import { tracingEnabled } from "../telemetry/tracing.ts";
import { context, type Context, type Span } from "@opentelemetry/api";

/**
 * What `forward` writes on a request as it goes. A class, so that a caller's request object
 * (the gateway's ProxyCall extends it) has these fields from its construction on.
 */
export class ForwardState {
  /** The last attempt's lease (the instance that answered, or failed last). */
  lease: Lease | undefined = undefined;
  /** Attempts made so far. */
  attempts = 0;
  /** Instances tried so far (made on the first retry). */
  tried: Set<string> | undefined = undefined;
  /** The current attempt's breaker epoch, start (performance.now()) and upstream instrument. */
  epoch = 0;
  attemptStarted = 0;
  upstream: UpstreamInstrument | undefined = undefined;
}

export interface ForwardRequest extends ForwardState {
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
  /** The pooled HTTP/1.1 client. */
  client: Http1Client;
  /** The response as the client's WireResponse, for the raw front to write as it is. */
  wire?: boolean;
  /** Route template (`/api/tasks/:id`), for the attempt spans' names. */
  route?: string;
  /** false: the answer may stream long (SSE), so the request is never pipelined behind or ahead of others. */
  pipeline?: boolean;
  /**
   * Instance versions this request may go to, the preferred first (a route's version split or
   * a client's pin); undefined: any instance.
   */
  versions?: readonly string[] | undefined;
  /** Told each attempt's end on its instance: failed as the breaker judges it (5xx, no answer), not when the caller cancelled. */
  attemptEnded?(lease: Lease, failed: boolean): void;
}

/** Told how a `forwardDirect` call ended: with the response to send, or the error to answer with. */
export interface ForwardSink {
  forwarded(res: WireResponse): void;
  forwardFailed(err: unknown): void;
}

/**
 * Forwards one HTTP request to a service: Retry(CircuitBreaker(TimeLimiter(balanced call))).
 * Each attempt prefers an instance not tried yet (the same one again when there is no other); 5xx and connection errors count against the
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

/**
 * Takes the breaker's permission and an instance (preferably not one tried already) for the
 * next attempt, and starts its clock and instruments; throws when there is neither.
 */
function beginAttempt(lb: LoadBalancer, policies: DownstreamPolicies, f: ForwardRequest): Lease {
  f.attempts++;
  const breaker = policies.breaker;
  if (!breaker.tryAcquirePermission()) throw breaker.notPermittedError();
  const epoch = breaker.epoch;
  // inside the breaker, as Resilience4j orders them: the client-side rate limiter, then the bulkhead
  const refusal = policies.rateLimiter === undefined && policies.bulkhead === undefined ? undefined : admitLocal(policies);
  if (refusal !== undefined) {
    breaker.releasePermission(epoch);
    throw refusal;
  }
  if (f.lease !== undefined) (f.tried ??= new Set()).add(f.lease.instance.id);
  let lease = pickFor(lb, f, f.tried);
  // avoiding instances already tried is a preference (Envoy's default), not a rule: with none left, the same one again
  if (!lease.ok && lease.reason === "all_excluded") lease = pickFor(lb, f, undefined);
  if (!lease.ok) {
    breaker.releasePermission(epoch);
    releaseLocal(policies);
    const versions = f.versions;
    throw new NoHealthyInstanceError(versions === undefined ? lb.service : `${lb.service} at version ${versions.join(" or ")}`, lease.reason, lease.retryAfterMs);
  }
  f.lease = lease;
  f.epoch = epoch;
  f.attemptStarted = performance.now();
  const upstream = (f.upstream = policies.metrics.upstream(lb.service, lease.instance.id));
  upstream.begin();
  return lease;
}

/** The attempt's response head arrived: breaker, instance and instruments told (429 is load, 5xx failure). */
function attemptAnswered(policies: DownstreamPolicies, f: ForwardRequest, res: Response | WireResponse): void {
  const ms = performance.now() - f.attemptStarted!;
  const failed = isFailedResponse(res);
  releaseLocal(policies);
  f.upstream!.end(ms / 1000, statusClass(res.status));
  policies.breaker.onResult(ms, failed, f.epoch);
  f.attemptEnded?.(f.lease!, failed);
  if (res.status === 429) {
    const ra = Number(res.headers.get("retry-after"));
    f.lease!.release({ outcome: "load", latencyMs: ms, retryAfterMs: Number.isFinite(ra) && ra > 0 ? ra * 1000 : undefined });
  } else {
    f.lease!.release({ outcome: failed ? "failure" : "success", latencyMs: ms });
  }
}

/** The attempt failed (no response head): breaker, instance and instruments told why. */
function attemptFailed(policies: DownstreamPolicies, f: ForwardRequest, err: unknown): void {
  const ms = performance.now() - f.attemptStarted!;
  const callerSignal = f.req.signal;
  releaseLocal(policies);
  f.upstream!.end(ms / 1000, callerSignal.aborted ? "cancelled" : (err as { code?: unknown } | null)?.code === "UPSTREAM_TIMEOUT" ? "timeout" : "error");
  policies.breaker.onErrorResult(ms, err, f.epoch, callerSignal);
  // the instance is judged as the breaker judges it: a client's broken upload or cancellation is not its failure
  const outcome = defaultErrorClassifier(err, callerSignal);
  if (outcome !== "ignore") f.attemptEnded?.(f.lease!, outcome === "failure");
  f.lease!.release({ outcome: outcome === "ignore" ? "cancelled" : outcome, latencyMs: ms });
}

/**
 * An instance for the next attempt: of the request's versions, the first that has a usable one
 * (any instance when it names none). An "all excluded" answer wins over the others, so the
 * caller tries again without excluding what it tried.
 */
function pickFor(lb: LoadBalancer, f: ForwardRequest, exclude: ReadonlySet<string> | undefined): PickResult {
  const versions = f.versions;
  if (versions === undefined) return lb.pick({ stickyId: f.stickyId, exclude });
  let refusal: PickResult | undefined;
  for (const version of versions) {
    const r = lb.pick({ stickyId: f.stickyId, exclude, version });
    if (r.ok) return r;
    if (refusal === undefined || r.reason === "all_excluded") refusal = r;
  }
  return refusal!;
}

function send(lb: LoadBalancer, policies: DownstreamPolicies, f: ForwardRequest, body: ArrayBuffer | ReadableStream | null, mayRetry: boolean): Promise<Response | WireResponse> {
  f.attempts = 0;
  const attempt = attemptFn(lb, policies, f, body);
  return mayRetry ? policies.retry.execute(attempt, f.req.signal, { deadline: f.deadline, idempotent: true }) : attempt();
}

/** The attempt's CLIENT span: a child of the span active now (the request's SERVER span); a retry is a sibling. */
function attemptSpan(lb: LoadBalancer, f: ForwardRequest, lease: Lease): Span {
  return startHttpClientSpan({ service: lb.service, method: f.req.method, route: f.route, address: lease.instance.address, port: lease.instance.port, resendCount: f.attempts - 1 });
}

/** The fields every attempt sends, plus the attempt span's traceparent while tracing is on. */
function attemptHeaders(f: ForwardRequest, span: Span): Record<string, string> {
  if (!tracingEnabled) return f.setHeaders;
  const headers = { ...f.setHeaders };
  injectTraceHeaders(headers, span);
  return headers;
}

/** One attempt of `f` as a promise (the retry policy's unit). */
function attemptFn(lb: LoadBalancer, policies: DownstreamPolicies, f: ForwardRequest, body: ArrayBuffer | Uint8Array | ReadableStream | null): () => Promise<Response | WireResponse> {
  const callerSignal = f.req.signal;
  return async (): Promise<Response | WireResponse> => {
    const lease = beginAttempt(lb, policies, f);
    const remaining = f.deadline - Date.now();
    const timeoutMs = Math.max(0, Math.min(policies.timeoutMs, remaining));
    const span = attemptSpan(lb, f, lease);
    const setHeaders = attemptHeaders(f, span);
    // the pooled client keeps the deadline itself (one timer for all requests; it guards the
    // response head only: streams such as SSE may run long after it) and listens to the caller's signal
    try {
      const opts: ProxyOptions = { body, setHeaders, stripHeaders: f.stripHeaders, signal: callerSignal, clientIp: f.clientIp, timeoutMs: Math.max(1, timeoutMs), timeoutLabel: lb.service, pipeline: f.pipeline };
      const res = f.wire === true ? await proxyRequestWire(f.client, f.req, f.url, lease.instance, opts) : await proxyRequest(f.client, f.req, f.url, lease.instance, opts);
      endHttpClientSpan(span, { status: res.status });
      attemptAnswered(policies, f, res);
      return res;
    } catch (err) {
      endHttpClientSpan(span, { error: err });
      attemptFailed(policies, f, err);
      throw err;
    }
  };
}

/**
 * `forward` without a promise, for the raw front with the pooled client when the body (if
 * any) is whole, traced or not: the first attempt's response goes from the upstream
 * socket's read to `sink` in the same callback. When that attempt fails or answers with a
 * status worth retrying, the retry policy takes over from there exactly as `forward` would
 * (backoff, budget, deadline, instances not tried yet), and `sink` hears the end of that.
 */
export function forwardDirect(lb: LoadBalancer, policies: DownstreamPolicies, f: ForwardRequest, body: Uint8Array | null, sink: ForwardSink): void {
  const mayRetry = f.idempotent && policies.retry.config.maxAttempts > 1;
  f.attempts = 0;
  if (mayRetry) policies.retry.begin();
  let lease: Lease;
  try {
    lease = beginAttempt(lb, policies, f);
  } catch (err) {
    if (mayRetry) resumeRetry(lb, policies, f, body, { failed: true, error: err }, sink);
    else sink.forwardFailed(err);
    return;
  }
  const timeoutMs = Math.max(1, Math.min(policies.timeoutMs, f.deadline - Date.now()));
  const span = attemptSpan(lb, f, lease);
  const setHeaders = attemptHeaders(f, span);
  // the socket's callbacks run outside this request's context: they re-enter it (spans, events, the retry)
  const attempt = new DirectAttempt(lb, policies, f, body, mayRetry, sink, span, tracingEnabled ? context.active() : null);
  proxyWireTo(f.client, f.req, f.url, lease.instance, { body, setHeaders, stripHeaders: f.stripHeaders, signal: f.req.signal, clientIp: f.clientIp, timeoutMs, timeoutLabel: lb.service, pipeline: f.pipeline }, attempt);
}

/** The first attempt's end, from the pooled client's callbacks. */
class DirectAttempt implements ExchangeSink {
  constructor(
    private readonly lb: LoadBalancer,
    private readonly policies: DownstreamPolicies,
    private readonly f: ForwardRequest,
    private readonly body: Uint8Array | null,
    private readonly mayRetry: boolean,
    private readonly sink: ForwardSink,
    private readonly span: Span,
    private readonly context: Context | null,
  ) {}

  // What follows runs in the request's context (events on its span, log lines' trace ids, the
  // retry) — except a sampled-out request's ordinary answer, where nothing would read it.
  response(res: WireResponse): void {
    if (this.context !== null && (this.span.isRecording() || res.status >= 500)) context.with(this.context, () => this.answered(res));
    else this.answered(res);
  }

  failed(err: unknown): void {
    if (this.context !== null) context.with(this.context, () => this.failedWith(err));
    else this.failedWith(err);
  }

  private resume(first: { failed: true; error: unknown } | { failed: false; value: WireResponse }): void {
    const ctx = this.context;
    if (ctx !== null && context.active() !== ctx) context.with(ctx, () => resumeRetry(this.lb, this.policies, this.f, this.body, first, this.sink));
    else resumeRetry(this.lb, this.policies, this.f, this.body, first, this.sink);
  }

  private answered(res: WireResponse): void {
    endHttpClientSpan(this.span, { status: res.status });
    attemptAnswered(this.policies, this.f, res);
    if (!this.mayRetry || this.policies.retry.firstSucceeded(res)) this.sink.forwarded(res);
    else this.resume({ failed: false, value: res });
  }

  private failedWith(err: unknown): void {
    endHttpClientSpan(this.span, { error: err });
    attemptFailed(this.policies, this.f, err);
    if (this.mayRetry) this.resume({ failed: true, error: err });
    else this.sink.forwardFailed(err);
  }
}

function resumeRetry(lb: LoadBalancer, policies: DownstreamPolicies, f: ForwardRequest, body: Uint8Array | null, first: { failed: true; error: unknown } | { failed: false; value: WireResponse }, sink: ForwardSink): void {
  const attempt = attemptFn(lb, policies, f, body) as () => Promise<WireResponse>;
  policies.retry.resume(first, attempt, f.req.signal, { deadline: f.deadline, idempotent: true }).then(
    (res) => sink.forwarded(res),
    (err: unknown) => sink.forwardFailed(err),
  );
}
