import { NO_BODY, STREAM, serializeHead, type HeadInfo } from "./request-head.ts";
import type { Http1RequestInit } from "./types.ts";
import { UpstreamTimeoutError } from "./errors.ts";
import type { WireResponse } from "./wire-response.ts";
import { Slots } from "./slots.ts";

/** Methods whose repetition has the same effect as one call (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
/** Methods that carry content, so an empty one still says `content-length: 0` (servers may answer 411 otherwise). */
const EXPECTS_BODY = new Set(["POST", "PUT", "PATCH"]);

/**
 * The exchanges in flight per caller signal, and one abort listener per signal
 * for all of them. The raw front hands every request on a connection the same
 * signal: adding and removing a DOM listener per request (native, allocating)
 * cost more than the rest of starting an exchange.
 */
const watched = new WeakMap<AbortSignal, Slots<"watchSlot", Exchange>>();

function watchSignal(signal: AbortSignal, ex: Exchange): void {
  let inFlight = watched.get(signal);
  if (inFlight === undefined) {
    const bag = (inFlight = new Slots("watchSlot"));
    watched.set(signal, bag);
    signal.addEventListener(
      "abort",
      () => {
        for (const e of bag.snapshot()) e.handleEvent();
      },
      { once: true },
    );
  }
  inFlight.add(ex);
}

function unwatchSignal(signal: AbortSignal, ex: Exchange): void {
  watched.get(signal)?.delete(ex);
}

/** Where an exchange started without a promise reports its end (see Http1Client.requestWireTo). */
export interface ExchangeSink {
  response(res: WireResponse): void;
  failed(err: unknown): void;
}

/** What an exchange needs of the connection carrying it (connection.ts), so this module does not import it. */
export interface ExchangeCarrier {
  abandon(ex: Exchange): void;
}

/** What an exchange needs of its upstream's pool (pool.ts), so this module does not import it. */
export interface ExchangePool {
  readonly hostHeader: string;
  clearDeadline(ex: Exchange): void;
}

/**
 * One request and its response, across at most two connections (the retry).
 * Its signal's listener (see `watchSignal`) calls `handleEvent` when the caller aborts.
 */
export class Exchange {
  /** Settles with the response, unless a sink was given (then the sink hears it). */
  readonly promise: Promise<Response | WireResponse> | null;
  private resolve!: (res: Response | WireResponse) => void;
  private reject!: (err: unknown) => void;
  readonly head: HeadInfo;
  readonly bytes: Uint8Array | null;
  readonly stream: ReadableStream<Uint8Array> | null;
  readonly isHead: boolean;
  readonly idempotent: boolean;
  /** May go behind another request on a connection: GET or HEAD, no body, no `Connection: close`. */
  readonly pipelinable: boolean;
  readonly signal: AbortSignal | undefined;
  readonly stripHopByHop: boolean;
  /** Resolve with a WireResponse (flat fields, whole bytes) instead of a Response. */
  readonly wire: boolean;
  readonly onTrailers: ((trailers: Headers) => void) | undefined;

  /** The connection carrying it now (null while connecting). */
  conn: ExchangeCarrier | null = null;
  /** The Response was handed out (or the promise rejected). */
  settled = false;
  /** Body fully delivered or the exchange failed: nothing more happens. */
  finished = false;
  /** Any byte of a response arrived on the current connection. */
  responseStarted = false;
  /** Request body bytes handed to the socket. */
  bodyBytesWritten = 0;
  /** A chunk was read from the body stream, so the body cannot be sent again. */
  streamTouched = false;
  /** All request bytes were handed to the connection. */
  requestSent = false;
  retried = false;
  controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  /** Epoch ms by which the response head must arrive; 0 for none. */
  deadline = 0;
  /** Its places in the client's deadline list and its signal's list (-1: not in it). */
  timedSlot = -1;
  watchSlot = -1;
  readonly timeoutMs: number;
  readonly timeoutLabel: string | undefined;
  /** Set while the request body is being pumped; cancelled if the exchange ends first. */
  bodyReader: { cancel(reason?: unknown): Promise<void> } | null = null;

  constructor(readonly pool: ExchangePool, init: Http1RequestInit, wire = false, private readonly sink: ExchangeSink | null = null) {
    this.promise =
      sink !== null
        ? null
        : new Promise<Response | WireResponse>((resolve, reject) => {
            this.resolve = resolve;
            this.reject = reject;
          });
    const method = init.method;
    const body = init.body ?? null;
    let length: number;
    if (body === null) {
      this.bytes = null;
      this.stream = null;
      length = EXPECTS_BODY.has(method) ? 0 : NO_BODY;
    } else if (typeof body === "string") {
      this.bytes = Buffer.from(body);
      this.stream = null;
      length = this.bytes.length;
    } else if (body instanceof Uint8Array) {
      this.bytes = body;
      this.stream = null;
      length = body.length;
    } else {
      this.bytes = null;
      this.stream = body;
      length = init.contentLength ?? STREAM;
    }
    this.head = serializeHead(method, init.path, pool.hostHeader, init.headers, length, init.relay);
    this.isHead = method === "HEAD";
    this.idempotent = IDEMPOTENT.has(method);
    this.pipelinable = (method === "GET" || this.isHead) && body === null && !this.head.close && init.pipeline !== false;
    this.signal = init.signal;
    this.stripHopByHop = init.stripHopByHop === true;
    this.wire = wire;
    this.timeoutMs = init.timeoutMs ?? 0;
    this.timeoutLabel = init.timeoutLabel;
    this.onTrailers = init.onTrailers;
    if (this.signal !== undefined) watchSignal(this.signal, this);
  }

  /**
   * A reused connection failed before any response byte: send again on a new
   * one when repeating is safe (see docs/http-transport.md "Retry").
   */
  mayRetry(): boolean {
    if (this.retried || this.responseStarted || this.finished) return false;
    if (this.stream !== null && this.streamTouched) return false;
    return this.idempotent || this.bodyBytesWritten === 0;
  }

  respond(res: Response | WireResponse): void {
    this.settled = true;
    if (this.deadline !== 0) this.pool.clearDeadline(this);
    if (this.sink !== null) this.sink.response(res as WireResponse);
    else this.resolve(res);
  }

  /** Ends the exchange with `err`: the promise rejects, or the body stream errors if the Response is out. */
  fail(err: unknown): void {
    if (this.finished) return;
    const controller = this.controller;
    this.finish();
    if (!this.settled) {
      this.settled = true;
      if (this.sink !== null) this.sink.failed(err);
      else this.reject(err);
    } else if (controller !== null) {
      try {
        controller.error(err);
      } catch {
        // The consumer already cancelled the stream.
      }
    }
  }

  finish(): void {
    this.finished = true;
    if (this.deadline !== 0) this.pool.clearDeadline(this);
    this.controller = null;
    // The upstream answered (or failed) before taking the whole upload: stop reading it.
    if (this.bodyReader !== null && !this.requestSent) this.bodyReader.cancel().catch(() => {});
    this.bodyReader = null;
    if (this.signal !== undefined) unwatchSignal(this.signal, this);
  }

  /** The caller's signal fired: drop the connection (it may be mid-message) and fail with the signal's reason. */
  handleEvent(): void {
    this.abort(this.signal?.reason);
  }

  /** No response head by the deadline: the same as an abort, with a 504. */
  timedOut(): void {
    const what = this.timeoutLabel ?? `upstream ${this.pool.hostHeader}`;
    this.abort(new UpstreamTimeoutError(`${what} did not answer within ${Math.round(this.timeoutMs)} ms`));
  }

  private abort(reason: unknown): void {
    if (this.finished) return;
    const conn = this.conn;
    this.fail(reason);
    if (conn !== null) conn.abandon(this);
  }
}
