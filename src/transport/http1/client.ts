import { UpstreamError } from "./errors.ts";
import { type Clock, type TimerHandle, systemClock } from "./clock.ts";
import type { Connection } from "./connection.ts";
import { Exchange, type ExchangeSink } from "./exchange.ts";
import { type PoolOwner, UpstreamPool } from "./pool.ts";
import { Slots } from "./slots.ts";

export { PIPELINE_BACKOFF_MS } from "./pool.ts";
import type { WireResponse } from "./wire-response.ts";
import type { Http1ClientOptions, Http1ClientStats, Http1ClientTls, Http1RequestInit, Http1Target } from "./types.ts";

export const HTTP1_CLIENT_DEFAULTS = {
  maxIdlePerUpstream: 128,
  /** Below Node's 5 s keepAliveTimeout and Bun.serve's 10 s idleTimeout, so we close before the server does. */
  idleTimeoutMs: 4_000,
  maxHeaderBytes: 64 * 1024,
  pipelineDepth: 1,
} as const;

/** The sweeper runs this many times per idle timeout; a connection lives idle for at most idleTimeoutMs. */
const SWEEPS_PER_TIMEOUT = 4;
/** Response-head deadlines are checked this often while any request has one: a timeout fires at most this late. */
export const TIMEOUT_TICK_MS = 10;

/**
 * HTTP/1.1 client with a keep-alive pool per upstream, on Bun.connect.
 * Response bodies stream from the socket with backpressure.
 */
export class Http1Client implements PoolOwner {
  readonly maxIdlePerUpstream: number;
  readonly maxHeaderBytes: number;
  readonly idleTimeoutMs: number;
  readonly pipelineDepth: number;
  readonly tls: Http1ClientTls | undefined;
  closed = false;
  /** Counts sweeps; idle ages are measured in ticks so the hot path never reads the clock. */
  tick = 0;

  private readonly clock: Clock;
  private readonly pools = new Map<string, Map<number, UpstreamPool>>();
  private sweepTimer: TimerHandle | null = null;
  /** Exchanges waiting for a response head with a deadline; checked on one timer, not one per request. */
  private readonly timed = new Slots<"timedSlot", Exchange>("timedSlot");
  private deadlineTimer: TimerHandle | null = null;
  private opened = 0;
  private reused = 0;
  private retries = 0;
  private pipelined = 0;
  private batchedWrites = 0;
  private pipelineRefusals = 0;
  /** Connections holding pipelined requests not written yet: written together when the loop turn ends. */
  private unflushed: Connection[] = [];
  private flushScheduled = false;

  constructor(options: Http1ClientOptions = {}) {
    this.maxIdlePerUpstream = options.maxIdlePerUpstream ?? HTTP1_CLIENT_DEFAULTS.maxIdlePerUpstream;
    this.idleTimeoutMs = options.idleTimeoutMs ?? HTTP1_CLIENT_DEFAULTS.idleTimeoutMs;
    this.maxHeaderBytes = options.maxHeaderBytes ?? HTTP1_CLIENT_DEFAULTS.maxHeaderBytes;
    this.pipelineDepth = options.pipelineDepth ?? HTTP1_CLIENT_DEFAULTS.pipelineDepth;
    this.clock = options.clock ?? systemClock;
    this.tls = options.tls;
    if (!(this.maxIdlePerUpstream >= 0) || !(this.idleTimeoutMs > 0) || !(this.maxHeaderBytes > 0) || !Number.isInteger(this.pipelineDepth) || this.pipelineDepth < 1) {
      throw new RangeError("Http1Client: maxIdlePerUpstream >= 0, idleTimeoutMs > 0, maxHeaderBytes > 0 and an integer pipelineDepth >= 1 are required");
    }
  }

  /**
   * Sends one request. Resolves when the response head arrives; the body then
   * streams. Rejects with UpstreamError (502) when the upstream cannot be
   * reached or breaks the exchange, or with `signal.reason` when aborted.
   */
  request(target: Http1Target, init: Http1RequestInit): Promise<Response> {
    return this.send(target, init, false) as Promise<Response>;
  }

  /** The same exchange, resolving with a WireResponse: no Headers, no Response, the body whole when it came with the head. */
  requestWire(target: Http1Target, init: Http1RequestInit): Promise<WireResponse> {
    return this.send(target, init, true) as Promise<WireResponse>;
  }

  /**
   * The same exchange without a promise: `sink.response` gets the WireResponse (from the
   * socket's read callback, as soon as the head is in), or `sink.failed` the error — once,
   * and never synchronously inside this call.
   */
  requestWireTo(target: Http1Target, init: Http1RequestInit, sink: ExchangeSink): void {
    if (this.closed) return void queueMicrotask(() => sink.failed(new UpstreamError("http1 client is closed")));
    const signal = init.signal;
    if (signal !== undefined && signal.aborted) return void queueMicrotask(() => sink.failed(signal.reason));
    const pool = this.poolFor(target.address, target.port);
    let ex: Exchange;
    try {
      ex = new Exchange(pool, init, true, sink);
    } catch (err) {
      return void queueMicrotask(() => sink.failed(err));
    }
    this.start(pool, ex);
  }

  private send(target: Http1Target, init: Http1RequestInit, wire: boolean): Promise<Response | WireResponse> {
    if (this.closed) return Promise.reject(new UpstreamError("http1 client is closed"));
    const signal = init.signal;
    if (signal !== undefined && signal.aborted) return Promise.reject(signal.reason);
    const pool = this.poolFor(target.address, target.port);
    let ex: Exchange;
    try {
      ex = new Exchange(pool, init, wire);
    } catch (err) {
      return Promise.reject(err);
    }
    this.start(pool, ex);
    return ex.promise!;
  }

  private start(pool: UpstreamPool, ex: Exchange): void {
    if (ex.timeoutMs > 0) {
      ex.deadline = this.clock.now() + ex.timeoutMs;
      this.timed.add(ex);
      if (this.deadlineTimer === null) this.armDeadlines();
    }
    if (pool.dispatch(ex)) this.reused++;
  }

  clearDeadline(ex: Exchange): void {
    ex.deadline = 0;
    this.timed.delete(ex);
  }

  private armDeadlines(): void {
    this.deadlineTimer = this.clock.setTimeout(this.checkDeadlines, TIMEOUT_TICK_MS);
    this.deadlineTimer.unref?.();
  }

  private readonly checkDeadlines = (): void => {
    this.deadlineTimer = null;
    const now = this.clock.now();
    for (const ex of this.timed.snapshot()) {
      if (ex.deadline !== 0 && ex.deadline <= now) {
        this.clearDeadline(ex);
        ex.timedOut();
      }
    }
    if (this.timed.size > 0) this.armDeadlines();
  };

  stats(): Http1ClientStats {
    let idle = 0;
    let open = 0;
    for (const byPort of this.pools.values()) {
      for (const pool of byPort.values()) {
        idle += pool.idle.length;
        open += pool.open;
      }
    }
    return {
      connectionsOpened: this.opened,
      reusedRequests: this.reused,
      retries: this.retries,
      pipelined: this.pipelined,
      batchedWrites: this.batchedWrites,
      pipelineRefusals: this.pipelineRefusals,
      idle,
      open,
    };
  }

  /** Closes idle connections and stops pooling; requests in flight finish, then their connections close. */
  close(): void {
    this.closed = true;
    if (this.sweepTimer !== null) this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    // requests in flight keep their deadlines: the timer stays until they are answered
    for (const byPort of this.pools.values()) for (const pool of byPort.values()) pool.closeAllIdle();
  }

  // PoolOwner
  onIdle(): void {
    if (this.sweepTimer !== null || this.closed) return;
    this.sweepTimer = this.clock.setTimeout(this.sweep, this.idleTimeoutMs / SWEEPS_PER_TIMEOUT);
    this.sweepTimer.unref?.();
  }
  countOpened(): void {
    this.opened++;
  }
  countRetry(): void {
    this.retries++;
  }
  countPipelined(): void {
    this.pipelined++;
  }
  countPipelineRefusal(): void {
    this.pipelineRefusals++;
  }
  now(): number {
    return this.clock.now();
  }
  /** `conn` holds requests to write: it is written when this loop turn's callbacks are done, with whatever else joins it by then. */
  flushLater(conn: Connection): void {
    this.unflushed.push(conn);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const conns = this.unflushed;
    this.unflushed = [];
    for (const conn of conns) if (conn.flushBatch()) this.batchedWrites++;
  };

  private poolFor(address: string, port: number): UpstreamPool {
    let byPort = this.pools.get(address);
    if (byPort === undefined) {
      byPort = new Map();
      this.pools.set(address, byPort);
    }
    let pool = byPort.get(port);
    if (pool === undefined) {
      pool = new UpstreamPool(this, address, port);
      byPort.set(port, pool);
    }
    return pool;
  }

  /** Ages idle connections by one tick, closes the expired, and forgets pools with nothing open. */
  private readonly sweep = (): void => {
    this.sweepTimer = null;
    this.tick++;
    const expiredSince = this.tick - SWEEPS_PER_TIMEOUT;
    let anyIdle = false;
    for (const [address, byPort] of this.pools) {
      for (const [port, pool] of byPort) {
        pool.closeIdleSince(expiredSince);
        if (pool.idle.length > 0) anyIdle = true;
        else if (pool.open <= 0) {
          pool.detached = true;
          byPort.delete(port);
        }
      }
      if (byPort.size === 0) this.pools.delete(address);
    }
    if (anyIdle) this.onIdle();
  };
}
