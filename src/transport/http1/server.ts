import type { Socket, TCPSocketListener } from "bun";
import { type Clock, systemClock, type TimerHandle } from "./clock.ts";
import { bodyTooLarge, ProtocolRejection } from "./errors.ts";
import { type BodyDecoder, type BodySink, ChunkedDecoder, LengthDecoder } from "./body-decoder.ts";
import { FlatHeaders } from "./flat-headers.ts";
import { latin1Slice } from "./latin1.ts";
import { SCRATCH } from "./scratch.ts";
import { writeResponse, writeWire } from "./server-response.ts";
import { WireResponse } from "./wire-response.ts";
import { ServerRequest, parseRequestHead, scanRequestHead, splitTarget, validHost } from "./server-request.ts";

export interface Http1ServerOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /**
   * A WireResponse (the pooled client's) is written as it is, without a Response in between.
   * DEFERRED: the handler answers later with `conn.respond(req, res)` (no promise on the way).
   */
  handler: (req: ServerRequest, conn: Conn) => Response | WireResponse | Promise<Response | WireResponse> | typeof DEFERRED;
  /** The response for an error the server meets itself (bad request, body limit, a handler that threw). */
  errorResponse: (err: unknown) => Response;
  /** Largest request head (request line + fields); larger → 431 and close. */
  maxHeaderBytes?: number;
  /** Largest request body; a larger Content-Length → 413 and close, a chunked body going past it fails. */
  maxBodyBytes: number;
  /** A keep-alive connection with no request in flight is closed after this long (nginx keepalive_timeout). */
  idleTimeoutMs?: number;
  /** A request head must arrive whole within this long of its first byte (slowloris), else 408 and close (nginx client_header_timeout). */
  headerTimeoutMs?: number;
  /**
   * A request body being read must make progress: more than this between two reads → 408 (if no
   * response has started) and close (nginx client_body_timeout). Time the server itself holds the
   * socket paused (the handler not reading) does not count.
   */
  bodyTimeoutMs?: number;
  /** Timers for the sweeper that counts these timeouts (a fake one in tests). */
  clock?: Clock;
  /** Serve HTTPS with this PEM certificate chain and key; a client that does not complete the handshake is dropped. */
  tls?: { cert: string; key: string };
}

/** A handler's answer meaning "I will call `conn.respond` myself". */
export const DEFERRED: unique symbol = Symbol("http1.deferred");

/** nginx's defaults: client_header_timeout 60 s, client_body_timeout 60 s, keepalive_timeout 75 s. */
export const HTTP1_SERVER_DEFAULTS = { maxHeaderBytes: 64 * 1024, idleTimeoutMs: 75_000, headerTimeoutMs: 60_000, bodyTimeoutMs: 60_000 } as const;

/** The sweeper's period: idle and header timeouts are counted in these ticks, so the request path reads no clock. */
const TICK_MS = 1000;
/** A request body stream holding this much unread pauses the socket. */
const BODY_HIGH_WATER = 128 * 1024;
const CRLF2 = Buffer.from("\r\n\r\n");
const CONTINUE = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n");

type Sock = Socket<Conn>;

/** `data` (a head not yet complete) holds a CR not followed by LF, or an LF not preceded by CR. */
function brokenLineEnd(data: Buffer): boolean {
  for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, i + 1)) if (i === 0 || data[i - 1] !== 13) return true;
  for (let i = data.indexOf(13); i !== -1 && i + 1 < data.length; i = data.indexOf(13, i + 1)) if (data[i + 1] !== 10) return true;
  return false;
}

function malformedBody(err: unknown): ProtocolRejection {
  return new ProtocolRejection(400, "BAD_REQUEST", `malformed request body: ${(err as Error).message}`);
}

/** RFC 9112 §3.2: an HTTP/1.1 request has exactly one valid Host; an HTTP/1.0 one at most one. */
function checkHost(headers: FlatHeaders, minor: number): void {
  const count = headers.count("host");
  if (count === 0) {
    if (minor === 1) throw new ProtocolRejection(400, "BAD_REQUEST", "missing Host");
    return;
  }
  if (count > 1) throw new ProtocolRejection(400, "BAD_REQUEST", "more than one Host");
  if (!validHost(headers.get("host")!)) throw new ProtocolRejection(400, "BAD_REQUEST", "invalid Host");
}

/**
 * RFC 9112 §6.3, §7: chunked must be the final coding and appear once (else the body's
 * length cannot be known: 400); another coding before it is one this server does not
 * decode (501). Empty list elements or a parameter on chunked are malformed (400).
 */
function checkTransferEncoding(te: string): void {
  const codings = te.split(",").map((c) => c.replace(/^[ \t]+|[ \t]+$/g, "").toLowerCase());
  for (const c of codings) if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(c)) throw new ProtocolRejection(400, "BAD_REQUEST", "malformed Transfer-Encoding");
  if (codings[codings.length - 1] !== "chunked" || codings.indexOf("chunked") !== codings.length - 1) {
    throw new ProtocolRejection(400, "BAD_REQUEST", "chunked is not the final transfer coding, exactly once");
  }
  if (codings.length > 1) throw new ProtocolRejection(501, "NOT_IMPLEMENTED", `transfer coding ${JSON.stringify(te)} is not supported`);
}

/** Per-connection state. Requests on one connection are handled one at a time, in order (pipelined ones wait in `pending`). */
export class Conn implements BodySink {
  pending: Buffer | null = null;
  busy = false;
  /** Close once the current response is written (Connection: close, HTTP/1.0, a body left unread, shutdown). */
  closeAfter = false;
  closed = false;
  /** The client half-closed: no more requests will come. */
  peerEnded = false;
  /** Tick when the connection went idle or a head started arriving; -1 while a request is in flight. */
  mark: number;
  headStarted = false;
  /** The request body being streamed in, while it is. */
  decoder: BodyDecoder | null = null;
  controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  bodyBytes = 0;
  /** Tick of the last read of a request body being received; -1 while none is. */
  bodyMark = -1;
  /** The response to the request in flight has begun (its head may be on the wire). */
  responding = false;
  /** The server answered the request in flight itself (a body timeout): the handler's answer is dropped. */
  abandoned = false;
  /** Bytes socket.write did not take yet, in order. */
  out: Uint8Array[] = [];
  drainWaiter: (() => void) | null = null;
  /** The response body being streamed out, cancelled if the client goes away. */
  reader: { cancel(reason?: unknown): Promise<void> } | null = null;
  private ac: AbortController | null = null;
  private pausedByBody = false;

  /** The server paused reading the body (nobody reads it): body-timeout time does not run. */
  get bodyPaused(): boolean {
    return this.pausedByBody;
  }
  private pausedByPending = false;

  constructor(readonly socket: Sock, readonly server: Http1Server, readonly ip: string) {
    this.mark = server.tick;
  }

  /** One signal per connection (requests on it never overlap): aborted when the client goes away. */
  get signal(): AbortSignal {
    if (this.ac === null) this.ac = new AbortController();
    return this.ac.signal;
  }

  onData(buf: Buffer): void {
    if (this.closed) return;
    let pos = 0;
    if (this.decoder !== null) {
      this.bodyMark = this.server.tick;
      try {
        pos = this.decoder.decode(buf, 0, this);
      } catch (err) {
        this.bodyFailed(malformedBody(err));
        return;
      }
      if (this.decoder.done) this.bodyDone();
      if (pos >= buf.length) return;
      if (this.closeAfter) return; // body refused: what follows is not read
    }
    const rest = pos === 0 ? buf : buf.subarray(pos);
    this.pending = this.pending === null ? rest : Buffer.concat([this.pending, rest]);
    if (!this.busy) this.next();
    else if (this.pending.length > this.server.maxHeaderBytes) this.setPausedByPending(true);
  }

  // BodySink: a request body chunk off the wire
  bodyChunk(chunk: Uint8Array): void {
    this.bodyBytes += chunk.length;
    if (this.bodyBytes > this.server.maxBodyBytes) {
      this.bodyFailed(bodyTooLarge(this.server.maxBodyBytes));
      return;
    }
    const c = this.controller;
    if (c === null) return;
    c.enqueue(chunk);
    if ((c.desiredSize ?? 1) <= 0 && !this.pausedByBody) {
      this.pausedByBody = true;
      this.socket.pause();
    }
  }

  /** The body stream was read from: let the socket flow again. */
  pullBody(): void {
    if (this.pausedByBody) {
      this.pausedByBody = false;
      if (!this.pausedByPending) this.socket.resume();
    }
  }

  private bodyDone(): void {
    this.decoder = null;
    this.bodyMark = -1;
    const c = this.controller;
    this.controller = null;
    if (c !== null) c.close();
    this.pullBody();
  }

  /** The body broke (limit, bad framing, client gone): its stream errors, the connection ends after the response. */
  bodyFailed(err: unknown): void {
    this.decoder = null;
    this.bodyMark = -1;
    this.closeAfter = true;
    const c = this.controller;
    this.controller = null;
    if (c !== null) {
      try {
        c.error(err);
      } catch {
        // the reader cancelled already
      }
    }
    this.pullBody();
  }

  private setPausedByPending(on: boolean): void {
    if (this.pausedByPending === on) return;
    this.pausedByPending = on;
    if (on) this.socket.pause();
    else if (!this.pausedByBody) this.socket.resume();
  }

  /** Parses and starts the next request in `pending`, if a whole head is there. */
  next(): void {
    const srv = this.server;
    while (!this.busy && !this.closed && this.pending !== null) {
      let data = this.pending;
      // RFC 9112 §2.2: empty lines before a request line are ignored
      let start = 0;
      while (start + 1 < data.length && data[start] === 13 && data[start + 1] === 10) start += 2;
      if (start > 0) {
        data = data.subarray(start);
        this.pending = data.length > 0 ? data : null;
        if (this.pending === null) break;
      }
      const end = data.indexOf(CRLF2);
      if (end < 0 || end > srv.maxHeaderBytes) {
        if (end > srv.maxHeaderBytes || data.length > srv.maxHeaderBytes + 4) {
          this.reject(new ProtocolRejection(431, "HEADERS_TOO_LARGE", `request head exceeds ${srv.maxHeaderBytes} bytes`));
          return;
        }
        // a head that can never end in CRLFCRLF (a bare LF or CR in it) is refused now, not at the header timeout
        if (end < 0 && brokenLineEnd(data)) {
          this.reject(new ProtocolRejection(400, "BAD_REQUEST", "bare CR or LF in request head"));
          return;
        }
        if (!this.headStarted) {
          this.headStarted = true;
          this.mark = srv.tick;
        }
        return;
      }
      let req: ServerRequest;
      try {
        req = this.begin(data, end);
      } catch (err) {
        this.reject(err);
        return;
      }
      this.run(req);
    }
    this.setPausedByPending(false);
  }

  /** Reads one request off `pending`: head, framing, and the body (whole if here, else a stream fed by later reads). */
  private begin(data: Buffer, end: number): ServerRequest {
    const srv = this.server;
    // an ordinary head is read in place; anything else (and every refusal, in words) by the text parser
    const head = scanRequestHead(data, end) ?? parseRequestHead(latin1Slice(data, 0, end));
    const headers = new FlatHeaders(head.raw ?? null, head.fields);
    // a tunnel is not something this server makes (RFC 9110 §9.3.6): refused before its authority-form target is read
    if (head.method === "CONNECT") throw new ProtocolRejection(501, "NOT_IMPLEMENTED", "CONNECT is not supported");
    const { pathname, search } = splitTarget(head.target, head.method);
    checkHost(headers, head.minor);
    const te = headers.get("transfer-encoding");
    const cl = headers.get("content-length");
    let length = 0;
    let chunked = false;
    if (te !== null) {
      // both framings at once is how requests get smuggled: refuse (RFC 9112 §6.3 allows it)
      if (cl !== null) throw new ProtocolRejection(400, "BAD_REQUEST", "both Transfer-Encoding and Content-Length");
      if (head.minor === 0) throw new ProtocolRejection(400, "BAD_REQUEST", "Transfer-Encoding in an HTTP/1.0 request");
      checkTransferEncoding(te);
      chunked = true;
    } else if (cl !== null) {
      // one field, digits only: "5, 5" (two lines or a list), "+5", " 5x" → 400, as nginx and llhttp
      if (!/^\d{1,15}$/.test(cl)) throw new ProtocolRejection(400, "BAD_REQUEST", "malformed Content-Length");
      length = Number(cl);
      if (length > srv.maxBodyBytes) throw bodyTooLarge(srv.maxBodyBytes);
    }
    const connection = headers.get("connection");
    if (head.minor === 0 ? connection === null || !/(?:^|,)\s*keep-alive\s*(?:,|$)/i.test(connection) : connection !== null && /(?:^|,)\s*close\s*(?:,|$)/i.test(connection)) {
      this.closeAfter = true;
    }
    const bodyStart = end + 4;
    let rest: Buffer | null = bodyStart < data.length ? data.subarray(bodyStart) : null;
    let bytes: Uint8Array | null = null;
    let stream: ReadableStream<Uint8Array> | null = null;
    this.bodyBytes = 0;
    if (!chunked && length > 0 && rest !== null && rest.length >= length) {
      bytes = rest.subarray(0, length);
      rest = rest.length > length ? rest.subarray(length) : null;
    } else if (chunked || length > 0) {
      this.decoder = chunked ? new ChunkedDecoder(srv.maxHeaderBytes) : new LengthDecoder(length);
      stream = new ReadableStream<Uint8Array>(
        {
          start: (controller) => {
            this.controller = controller;
          },
          pull: () => this.pullBody(),
          cancel: () => {
            // the handler does not want the rest: stop feeding it, and do not read the connection further
            this.controller = null;
            if (this.decoder !== null) {
              this.decoder = null;
              this.closeAfter = true;
            }
            this.pullBody();
          },
        },
        { highWaterMark: BODY_HIGH_WATER, size: (chunk) => chunk?.byteLength ?? 0 },
      );
      const expect = headers.get("expect");
      if (expect !== null && expect.toLowerCase() === "100-continue" && head.minor === 1 && rest === null) this.write(CONTINUE);
    }
    this.pending = null;
    this.busy = true;
    this.responding = false;
    this.abandoned = false;
    this.headStarted = false;
    this.mark = -1;
    if (this.decoder !== null) this.bodyMark = srv.tick;
    // the URL's authority is this server's own, never the client's Host: routing reads the target only
    const req = new ServerRequest(head.method, head.target, pathname, search, headers.get("host") || srv.hostHeader, srv.hostHeader, headers, head.minor, this.ip, this.signal, bytes, stream);
    if (rest !== null) {
      if (this.decoder !== null) {
        let pos: number;
        try {
          pos = this.decoder.decode(rest, 0, this);
        } catch (err) {
          throw malformedBody(err);
        }
        if (this.decoder !== null && this.decoder.done) this.bodyDone();
        rest = pos < rest.length && !this.closeAfter ? rest.subarray(pos) : null;
      }
      this.pending = rest;
    }
    return req;
  }

  private run(req: ServerRequest): void {
    const srv = this.server;
    let out: ReturnType<Http1ServerOptions["handler"]>;
    try {
      out = srv.handler(req, this);
    } catch (err) {
      out = srv.errorResponse(err);
    }
    if (out === DEFERRED) return; // the handler calls respond() itself
    if (out instanceof Promise) {
      out.then(
        (res) => this.respond(req, res),
        (err: unknown) => this.respond(req, srv.errorResponse(err)),
      );
      return;
    }
    this.respond(req, out);
  }

  /** Writes the answer to `req` (the request in flight here), then goes on with the next one. Exactly once per request. */
  respond(req: ServerRequest, res: Response | WireResponse): void {
    if (this.closed || this.abandoned) {
      if (res instanceof WireResponse) res.cancel();
      else void res.body?.cancel().catch(() => {});
      return;
    }
    // a body the handler left unread cannot be skipped cheaply: the connection ends with this response
    if (this.decoder !== null) this.closeAfter = true;
    if (this.server.stopping) this.closeAfter = true;
    this.responding = true;
    let writing: Promise<void> | undefined;
    try {
      writing = res instanceof WireResponse ? writeWire(this, req, res) : writeResponse(this, req, res);
    } catch {
      this.destroy();
      return;
    }
    if (writing === undefined) this.responded();
    else
      writing.then(
        () => this.responded(),
        () => this.destroy(),
      );
  }

  private responded(): void {
    if (this.closed) return;
    this.busy = false;
    if (this.closeAfter) {
      this.endGracefully();
      return;
    }
    this.mark = this.server.tick;
    this.next();
    if (!this.busy && this.peerEnded) this.endGracefully();
  }

  /** The client stopped sending a request body: 408 if nothing was answered yet, then close. */
  bodyTimedOut(): void {
    const err = new ProtocolRejection(408, "REQUEST_TIMEOUT", "request body timed out");
    this.bodyFailed(err);
    if (this.responding) {
      this.destroy();
      return;
    }
    // the handler's work is for nobody now: its signal fires, and its answer is dropped
    this.abandoned = true;
    if (this.ac !== null) this.ac.abort(err);
    this.reject(err);
  }

  /** Answers a request the server refused itself, then closes (the bytes after it cannot be trusted). */
  reject(err: unknown): void {
    this.pending = null;
    this.busy = true;
    this.closeAfter = true;
    this.mark = -1;
    const res = this.server.errorResponse(err);
    void writeResponse(this, null, res).then(
      () => this.endGracefully(),
      () => this.destroy(),
    );
  }

  /** Writes SCRATCH[0, length) without making a view of it (the usual case: the kernel takes it all); what waits is copied. */
  writeScratch(length: number): void {
    if (this.closed) return;
    if (this.out.length > 0) {
      this.out.push(SCRATCH.slice(0, length));
      return;
    }
    const n = this.socket.write(SCRATCH, 0, length);
    if (n < length) this.out.push(SCRATCH.slice(Math.max(0, n), length));
  }

  /** Writes `data` (which the caller must not reuse); what the kernel does not take waits for drain. */
  write(data: Uint8Array): void {
    if (this.closed) return;
    if (this.out.length > 0) {
      this.out.push(data);
      return;
    }
    const n = this.socket.write(data);
    if (n < data.length) this.out.push(data.subarray(Math.max(0, n)));
  }

  /** Resolves once everything queued is on its way (backpressure for streamed response bodies). */
  drained(): Promise<void> | undefined {
    if (this.out.length === 0 || this.closed) return undefined;
    return new Promise<void>((resolve) => {
      this.drainWaiter = resolve;
    });
  }

  onDrain(): void {
    const out = this.out;
    while (out.length > 0) {
      const first = out[0]!;
      const n = this.socket.write(first);
      if (n < first.length) {
        out[0] = first.subarray(Math.max(0, n));
        return;
      }
      out.shift();
    }
    const w = this.drainWaiter;
    this.drainWaiter = null;
    if (w !== null) w();
    if (this.closeAfter && !this.busy) this.socket.end();
  }

  /** The client sent FIN: answer what it sent (requests already read or pending), then close. */
  onEnd(): void {
    this.peerEnded = true;
    // a body still arriving can never complete now: it fails (the handler answers, then the connection closes)
    if (this.decoder !== null) this.bodyFailed(new ProtocolRejection(400, "BAD_REQUEST", "client closed before the request body ended"));
    if (!this.busy) {
      this.next();
      if (!this.busy) this.endGracefully();
    }
  }

  endGracefully(): void {
    if (this.closed) return;
    if (this.out.length === 0) this.socket.end();
    // else onDrain ends it once the queue is out
  }

  destroy(): void {
    if (!this.closed) this.socket.terminate();
    this.onClose();
  }

  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.forget(this);
    this.out = [];
    const w = this.drainWaiter;
    this.drainWaiter = null;
    if (w !== null) w();
    if (this.decoder !== null || this.controller !== null) this.bodyFailed(new Error("client closed the connection"));
    if (this.ac !== null) this.ac.abort(new DOMException("client closed the connection", "AbortError"));
    const r = this.reader;
    this.reader = null;
    if (r !== null) r.cancel().catch(() => {});
  }
}

/**
 * A minimal HTTP/1.1 server on Bun.listen for the gateway's proxied routes
 * (docs/http-transport.md "Raw front"): no Request/Response objects on the
 * way in, keep-alive, pipelining (in order), chunked both ways, backpressure.
 */
export class Http1Server {
  readonly handler: Http1ServerOptions["handler"];
  readonly errorResponse: Http1ServerOptions["errorResponse"];
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
  readonly connections = new Set<Conn>();
  readonly hostHeader: string;
  tick = 0;
  stopping = false;
  /** The IMF-fixdate for Date fields, refreshed by the sweeper. */
  date = new Date().toUTCString();
  readonly port: number;
  private readonly listener: TCPSocketListener<Conn>;
  private readonly idleTicks: number;
  private readonly headerTicks: number;
  private readonly bodyTicks: number;
  private readonly clock: Clock;
  private sweeper: TimerHandle | null = null;
  private readonly closeWaiters: (() => void)[] = [];

  constructor(opts: Http1ServerOptions) {
    this.handler = opts.handler;
    this.errorResponse = opts.errorResponse;
    this.maxHeaderBytes = opts.maxHeaderBytes ?? HTTP1_SERVER_DEFAULTS.maxHeaderBytes;
    this.maxBodyBytes = opts.maxBodyBytes;
    this.idleTicks = Math.max(1, Math.ceil((opts.idleTimeoutMs ?? HTTP1_SERVER_DEFAULTS.idleTimeoutMs) / TICK_MS));
    this.headerTicks = Math.max(1, Math.ceil((opts.headerTimeoutMs ?? HTTP1_SERVER_DEFAULTS.headerTimeoutMs) / TICK_MS));
    this.bodyTicks = Math.max(1, Math.ceil((opts.bodyTimeoutMs ?? HTTP1_SERVER_DEFAULTS.bodyTimeoutMs) / TICK_MS));
    this.clock = opts.clock ?? systemClock;
    this.date = new Date(this.clock.now()).toUTCString();
    const server = this;
    this.listener = Bun.listen<Conn>({
      hostname: opts.hostname,
      port: opts.port,
      // a client may send its request and half-close (FIN) before reading the answer
      allowHalfOpen: true,
      ...(opts.tls !== undefined ? { tls: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
      socket: {
        open(socket) {
          const conn = new Conn(socket, server, socket.remoteAddress);
          socket.data = conn;
          server.connections.add(conn);
          if (server.stopping) conn.destroy();
        },
        data(socket, buf) {
          socket.data.onData(buf);
        },
        drain(socket) {
          socket.data.onDrain();
        },
        end(socket) {
          socket.data?.onEnd();
        },
        close(socket) {
          socket.data?.onClose();
        },
        error(socket) {
          socket.data?.destroy();
        },
      },
    });
    this.port = this.listener.port;
    this.hostHeader = `${opts.hostname}:${this.port}`;
    this.sweeper = this.clock.setTimeout(this.sweep, TICK_MS);
    this.sweeper.unref?.();
  }

  /** Connections open right now. */
  get openConnections(): number {
    return this.connections.size;
  }

  /**
   * Stops accepting. Graceful: idle connections close now, busy ones after their
   * current response; resolves when the last one is gone. Forced: every connection is cut.
   */
  stop(force = false): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.listener.stop(false);
    }
    for (const conn of [...this.connections]) {
      if (force) conn.destroy();
      else if (!conn.busy) conn.endGracefully();
      else conn.closeAfter = true;
    }
    return this.connections.size === 0 ? (this.allClosed(), Promise.resolve()) : new Promise<void>((resolve) => this.closeWaiters.push(resolve));
  }

  /** A connection went away: the last one during a stop settles stop(). */
  forget(conn: Conn): void {
    this.connections.delete(conn);
    if (this.stopping && this.connections.size === 0) this.allClosed();
  }

  private allClosed(): void {
    if (this.sweeper !== null) this.clock.clearTimeout(this.sweeper);
    this.sweeper = null;
    for (const w of this.closeWaiters.splice(0)) w();
  }

  /**
   * Once a tick: the Date field, and the three timeouts, counted in whole ticks (a timeout of
   * N ticks fires between N and N+1 ticks after its mark).
   */
  private readonly sweep = (): void => {
    this.sweeper = null;
    if (this.stopping && this.connections.size === 0) return;
    this.tick++;
    this.date = new Date(this.clock.now()).toUTCString();
    for (const conn of [...this.connections]) {
      if (conn.bodyMark >= 0 && !conn.bodyPaused && this.tick - conn.bodyMark > this.bodyTicks) {
        conn.bodyTimedOut();
        continue;
      }
      if (conn.busy || conn.mark < 0) continue;
      if (conn.headStarted) {
        if (this.tick - conn.mark > this.headerTicks) conn.reject(new ProtocolRejection(408, "REQUEST_TIMEOUT", "request head timed out"));
      } else if (this.tick - conn.mark > this.idleTicks) conn.endGracefully();
    }
    this.sweeper = this.clock.setTimeout(this.sweep, TICK_MS);
    this.sweeper.unref?.();
  };
}

/** Starts a raw HTTP/1.1 server. */
export function serveHttp1(opts: Http1ServerOptions): Http1Server {
  return new Http1Server(opts);
}
