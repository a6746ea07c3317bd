import type { Clock } from "./clock.ts";
import type { RawLines } from "./raw-lines.ts";

/** Where a request goes: one upstream instance (a ServiceInstance fits). */
export interface Http1Target {
  address: string;
  port: number;
}

/**
 * Request headers: a Headers object (already validated by Bun), or a flat
 * `[name, value, name, value, …]` array (checked for CR/LF/NUL before sending).
 */
export type Http1Headers = Headers | readonly string[];

export type Http1Body = ReadableStream<Uint8Array> | Uint8Array | string | null;

export interface Http1RequestInit {
  method: string;
  /** Origin-form request target: path plus query, e.g. `/api/tasks/7?x=1`. */
  path: string;
  headers?: Http1Headers;
  /**
   * Received field lines to send on as they are, after `headers` (a proxy relaying a
   * request read in place): `relay.lines` are indices into `relay.raw`. They were
   * checked when received; the caller leaves out what must not cross (hop-by-hop
   * fields, Host, framing). Only with a body that is bytes or none.
   */
  relay?: { raw: RawLines; lines: readonly number[] };
  body?: Http1Body;
  /**
   * Length of a streamed body when the caller knows it (else a `content-length`
   * header is used, else the body is sent chunked).
   */
  contentLength?: number;
  /** Aborting destroys the socket; the promise / body stream fail with `signal.reason`. */
  signal?: AbortSignal;
  /**
   * No response head within this many ms → the socket is destroyed and the promise
   * rejects with an UpstreamTimeoutError (504) naming `timeoutLabel`. Cheaper than
   * an AbortSignal.timeout per request: the client checks all its deadlines on one
   * timer (to within TIMEOUT_TICK_MS). The body, once the head is in, may take longer.
   */
  timeoutMs?: number;
  /** Names the upstream in the timeout error ("task-service did not answer within 5000 ms"). */
  timeoutLabel?: string;
  /** Leave hop-by-hop fields (Connection, Keep-Alive, Transfer-Encoding, …) out of the Response, as a proxy must. */
  stripHopByHop?: boolean;
  /**
   * false keeps this request off pipelining even when the client pipelines (a GET whose answer
   * may stream for long, e.g. server-sent events, would hold up the requests queued behind it).
   */
  pipeline?: boolean;
  /** Receives the trailer fields of a chunked response, when the body ends. */
  onTrailers?: (trailers: Headers) => void;
}

export interface Http1ClientOptions {
  /** Idle keep-alive connections kept per upstream; more are closed when released. */
  maxIdlePerUpstream?: number;
  /** An idle connection is closed after at most this long (keep it below the servers' keep-alive timeout). */
  idleTimeoutMs?: number;
  /** Largest response head (status line + fields) or trailer section accepted. */
  maxHeaderBytes?: number;
  /**
   * Requests in flight per connection (HTTP/1.1 pipelining, docs/http-transport.md "Pipelining").
   * 1, the default, sends one at a time. Above 1, GET and HEAD requests without a body that start
   * in one event-loop turn share a connection and go out in one write; the answers come back in
   * order. An upstream that closes a connection before answering its pipelined requests gets
   * them again one per connection, and no pipelining for PIPELINE_BACKOFF_MS.
   */
  pipelineDepth?: number;
  /** Dial upstreams over TLS, verifying their certificates with this CA (and name, when given). */
  tls?: Http1ClientTls;
  /** Drives the idle sweeper; tests pass a FakeClock. */
  clock?: Clock;
}

export interface Http1ClientStats {
  /** Connections opened since the client was made. */
  connectionsOpened: number;
  /** Requests sent on a connection taken from the idle pool. */
  reusedRequests: number;
  /** Requests retried on a new connection after a reused one failed before any response byte. */
  retries: number;
  /** Requests sent behind another on the same connection (pipelined). */
  pipelined: number;
  /** Writes that carried more than one request. */
  batchedWrites: number;
  /** Times an upstream closed a connection before answering pipelined requests (pipelining then paused for it). */
  pipelineRefusals: number;
  /** Idle connections right now, over all upstreams. */
  idle: number;
  /** Connections open or opening right now (idle + carrying a request), over all upstreams. */
  open: number;
}

/** What the client verifies an upstream's certificate with. */
export interface Http1ClientTls {
  /** PEM CA certificate(s) the upstream's chain must lead to. */
  ca: string;
  /** The name checked against the certificate instead of the address dialled (upstreams are found by IP). */
  serverName?: string;
}
