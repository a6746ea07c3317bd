import type { Socket, SocketHandler } from "bun";
import { UpstreamError } from "./errors.ts";
import { type BodyDecoder, type BodySink, ChunkedDecoder, LengthDecoder, UntilCloseDecoder } from "./body-decoder.ts";
import type { Exchange } from "./exchange.ts";
import { pumpBody } from "./request-body.ts";
import type { HeadInfo } from "./request-head.ts";
import { latin1Slice, latin1Write } from "./latin1.ts";
import { SCRATCH } from "./scratch.ts";
import { ProtocolError, headersOf, parseResponseHead, scanResponseHead, type ResponseHead } from "./response-head.ts";
import { WireResponse } from "./wire-response.ts";

/** Bun's TCP socket has pause/resume at run time; bun-types does not declare them yet. */
type TcpSocket = Socket<Connection> & { pause(): void; resume(): void; setNoDelay(noDelay?: boolean): void };

const HEAD_END = Buffer.from("\r\n\r\n");
/** Bytes a streamed response body may queue before the socket is paused (backpressure). */
const BODY_HIGH_WATER_BYTES = 128 * 1024;
const BODY_STRATEGY: QueuingStrategy<Uint8Array> = { highWaterMark: BODY_HIGH_WATER_BYTES, size: (chunk) => chunk?.byteLength ?? 0 };
/** Statuses whose Response must have a null body (Fetch "null body status"). */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

const enum Phase { Idle, Head, Body }
const EMPTY = new Uint8Array(0);

/** What a connection needs of its upstream's pool (pool.ts), so this module does not import it. */
export interface ConnectionPool {
  readonly hostHeader: string;
  readonly maxHeaderBytes: number;
  filling: Connection | null;
  pipelineRefused(): void;
  retry(ex: Exchange): void;
  release(conn: Connection): void;
  forget(conn: Connection): void;
}

/**
 * One keep-alive TCP connection to an upstream. It reads the answer of one exchange at a time;
 * pipelined exchanges (`enqueue`) wait behind it in order, their requests already written.
 */
export class Connection implements BodySink {
  socket: TcpSocket | null = null;
  /** The exchange whose response is read now. */
  exchange: Exchange | null = null;
  /** Pipelined exchanges after `exchange`, in the order their requests went out. */
  private behind: Exchange[] = [];
  /** Request heads enqueued this loop turn, written by flushBatch. */
  private batch: Buffer | null = null;
  private batchLength = 0;
  private batchRequests = 0;
  closed = false;
  /** Requests this connection carried to completion; > 0 means a request on it is a reuse. */
  served = 0;
  /** Sweeper tick at which it went idle. */
  idleTick = 0;
  inIdleList = false;

  private phase = Phase.Idle;
  /** A response head split across reads. */
  private headPartial: Buffer | null = null;
  private decoder: BodyDecoder | null = null;
  private keepAlive = false;
  /** Body chunks decoded before the Response exists: a body that is complete in the first read needs no stream. */
  private collecting: Uint8Array[] | null = null;
  private paused = false;
  /** Bytes the kernel did not take yet; written on drain. */
  private pending: Uint8Array[] | null = null;
  private drainWaiter: (() => void) | null = null;

  constructor(readonly pool: ConnectionPool) {}

  /** Exchanges sent (or about to be) and not yet answered. */
  get inFlight(): number {
    return (this.exchange === null ? 0 : 1) + this.behind.length;
  }

  attach(socket: Socket<Connection>): void {
    this.socket = socket as TcpSocket;
    this.socket.setNoDelay(true);
  }

  /** Starts `ex` on this connection: head (and a small body) in one write, a stream pumped after. */
  send(ex: Exchange): void {
    this.exchange = ex;
    ex.conn = this;
    ex.responseStarted = false;
    ex.requestSent = false;
    this.phase = Phase.Head;
    this.keepAlive = false;
    const head = ex.head;
    const bytes = ex.bytes;
    const headLength = head.length;
    if (bytes !== null && headLength + bytes.length <= SCRATCH.length) {
      writeHead(head, SCRATCH, 0);
      SCRATCH.set(bytes, headLength);
      this.writeScratch(headLength + bytes.length);
      ex.bodyBytesWritten = bytes.length;
      ex.requestSent = true;
    } else {
      if (headLength <= SCRATCH.length) {
        writeHead(head, SCRATCH, 0);
        this.writeScratch(headLength);
      } else {
        const buf = Buffer.allocUnsafe(headLength);
        writeHead(head, buf, 0);
        this.write(buf);
      }
      if (bytes !== null) {
        this.write(bytes);
        ex.bodyBytesWritten = bytes.length;
        ex.requestSent = true;
      } else if (ex.stream === null) {
        ex.requestSent = true;
      } else {
        void pumpBody(this, ex, ex.stream);
      }
    }
  }

  /**
   * Queues a pipelinable `ex` (GET/HEAD, no body) behind whatever this connection carries.
   * Its head is added to the batch; the pool has the client call flushBatch when the loop
   * turn ends, so the requests of one turn leave in one write.
   */
  enqueue(ex: Exchange): void {
    ex.conn = this;
    ex.responseStarted = false;
    ex.requestSent = true;
    if (this.exchange === null) {
      this.exchange = ex;
      this.phase = Phase.Head;
      this.keepAlive = false;
    } else {
      this.behind.push(ex);
    }
    const length = ex.head.length;
    let batch = this.batch;
    if (batch === null || this.batchLength + length > batch.length) {
      const grown = Buffer.allocUnsafe(Math.max(4096, 2 * (this.batchLength + length)));
      if (batch !== null) batch.copy(grown, 0, 0, this.batchLength);
      this.batch = batch = grown;
    }
    this.batchLength = writeHead(ex.head, batch, this.batchLength);
    this.batchRequests++;
  }

  /** Writes the heads enqueued since the last flush in one write; true when they were more than one request. */
  flushBatch(): boolean {
    if (this.pool.filling === this) this.pool.filling = null;
    const length = this.batchLength;
    const requests = this.batchRequests;
    this.batchLength = 0;
    this.batchRequests = 0;
    if (length === 0 || this.closed) return false; // closed meanwhile: its exchanges were already sent elsewhere
    const socket = this.socket!;
    const batch = this.batch!;
    if (this.pending === null) {
      const n = socket.write(batch, 0, length);
      if (n < length) this.pending = [new Uint8Array(batch.subarray(Math.max(0, n), length))]; // a copy: the batch is reused
    } else {
      this.pending.push(new Uint8Array(batch.subarray(0, length)));
    }
    return requests > 1;
  }

  // ---- writing ----

  /** Writes SCRATCH[0, length) without making a view for it (the common case: all of it goes at once). */
  writeScratch(length: number): boolean {
    const socket = this.socket;
    if (this.closed || socket === null) return false;
    if (this.pending === null) {
      const n = socket.write(SCRATCH, 0, length);
      if (n === length) return true;
      this.pending = [new Uint8Array(SCRATCH.subarray(Math.max(0, n), length))]; // a copy: SCRATCH is reused
      return false;
    }
    this.pending.push(new Uint8Array(SCRATCH.subarray(0, length)));
    return false;
  }

  /** Writes all of `data` eventually (the rest on drain); false when some waits. `data` must not be reused by the caller. */
  write(data: Uint8Array): boolean {
    const socket = this.socket;
    if (this.closed || socket === null) return false;
    if (this.pending !== null) {
      this.pending.push(data);
      return false;
    }
    const n = socket.write(data);
    if (n === data.length) return true;
    const rest = data.subarray(Math.max(0, n));
    this.pending = [rest];
    return false;
  }

  onDrain(): void {
    const socket = this.socket;
    const pending = this.pending;
    if (socket === null || pending === null) return;
    while (pending.length > 0) {
      const head = pending[0]!;
      const n = socket.write(head);
      if (n < head.length) {
        pending[0] = head.subarray(Math.max(0, n));
        return;
      }
      pending.shift();
    }
    this.pending = null;
    this.wakeWriter();
  }

  private wakeWriter(): void {
    const waiter = this.drainWaiter;
    if (waiter !== null) {
      this.drainWaiter = null;
      waiter();
    }
  }

  /** Resolves once pending bytes were written (or the connection closed); null when nothing waits. */
  drained(): Promise<void> | null {
    if (this.pending === null) return null;
    return new Promise<void>((resolve) => (this.drainWaiter = resolve));
  }

  /** This connection still carries `ex` (a body pump stops when it does not). */
  carries(ex: Exchange): boolean {
    return this.exchange === ex && !this.closed;
  }

  // ---- reading ----

  onData(buf: Buffer): void {
    const first = this.exchange;
    if (first === null || this.phase === Phase.Idle) {
      // Bytes nobody asked for (or after the response): the stream is out of step, never reuse it.
      this.destroy();
      return;
    }
    let ex: Exchange = first;
    ex.responseStarted = true;
    try {
      let data = buf;
      let pos = 0;
      while (pos < data.length) {
        if (this.phase === Phase.Head) {
          let searchFrom = pos;
          if (this.headPartial !== null) {
            searchFrom = Math.max(0, this.headPartial.length - 3);
            data = Buffer.concat([this.headPartial, pos === 0 ? data : data.subarray(pos)]);
            pos = 0;
            this.headPartial = null;
          }
          const end = data.indexOf(HEAD_END, searchFrom);
          if (end < 0) {
            if (data.length - pos > this.pool.maxHeaderBytes) throw new ProtocolError("response head too large");
            this.headPartial = pos === 0 ? data : data.subarray(pos);
            return;
          }
          if (end - pos > this.pool.maxHeaderBytes) throw new ProtocolError("response head too large");
          // a proxied response is read in place when it is an ordinary one; else (and for a Response) as text
          const head = (ex.wire && ex.stripHopByHop ? scanResponseHead(data, pos, end) : null) ?? parseHead(latin1Slice(data, pos, end), ex.stripHopByHop);
          pos = end + 4;
          if (head.status < 200) {
            // 100 Continue and 103 Early Hints precede the real response; we never ask to switch protocols.
            if (head.status === 101) throw new ProtocolError("unexpected 101 Switching Protocols");
            continue;
          }
          pos = this.startBody(ex, head, data, pos);
        } else {
          const decoder = this.decoder!;
          pos = decoder.decode(data, pos, this);
          if (decoder.done) {
            if (pos < data.length && this.behind.length === 0) this.keepAlive = false;
            this.complete(ex);
          }
        }
        if (this.exchange !== ex) {
          // Response complete: what follows is the next pipelined exchange's answer, else a protocol violation.
          const next: Exchange | null = this.exchange;
          if (next === null) {
            if (pos < data.length) this.destroy();
            return;
          }
          ex = next;
          if (pos < data.length) ex.responseStarted = true;
        }
      }
    } catch (err) {
      // Whatever broke here (framing, a field Headers refuses, a status Response refuses) came from the upstream's bytes.
      this.failWith(ex, this.upstreamError(`sent a malformed response: ${(err as Error)?.message ?? String(err)}`, err));
    }
  }

  /** Decides the framing, hands out the response (a Response, or a WireResponse when asked), and decodes what this read already holds. */
  private startBody(ex: Exchange, head: ResponseHead, data: Buffer, pos: number): number {
    this.keepAlive = head.keepAlive;
    const status = head.status;
    const wire = ex.wire;
    const init = wire ? null : { status, statusText: head.statusText, headers: headersOf(head.fields) };
    if (ex.isHead || status === 204 || status === 304) {
      ex.respond(wire ? wireOf(head, null) : new Response(null, init!));
      this.complete(ex);
      return pos;
    }
    const nullBody = NULL_BODY_STATUS.has(status);
    const length = head.contentLength;
    if (length >= 0 && !head.chunked && data.length - pos >= length && !nullBody) {
      // the usual small response: its whole body came with the head, so no decoder and no collecting
      const body = length === 0 ? null : data.subarray(pos, pos + length);
      pos += length;
      if (pos < data.length && this.behind.length === 0) this.keepAlive = false;
      ex.respond(wire ? wireOf(head, body ?? EMPTY) : new Response(body, init!));
      this.complete(ex);
      return pos;
    }
    let decoder: BodyDecoder;
    if (head.chunked) decoder = new ChunkedDecoder(this.pool.maxHeaderBytes);
    else if (head.contentLength >= 0) decoder = new LengthDecoder(head.contentLength);
    else {
      decoder = new UntilCloseDecoder();
      this.keepAlive = false;
    }
    this.decoder = decoder;
    this.phase = Phase.Body;
    const collected: Uint8Array[] = [];
    this.collecting = collected;
    if (pos < data.length) pos = decoder.decode(data, pos, this);
    this.collecting = null;
    if (decoder.done) {
      if (pos < data.length && this.behind.length === 0) this.keepAlive = false;
      const body = nullBody || collected.length === 0 ? null : collected.length === 1 ? collected[0]! : Buffer.concat(collected);
      ex.respond(wire ? wireOf(head, body ?? EMPTY) : new Response(body, init!));
      this.complete(ex);
      return pos;
    }
    if (nullBody) {
      // A 205 with content: read and drop it, the Response cannot carry it.
      ex.respond(wire ? wireOf(head, EMPTY) : new Response(null, init!));
      return pos;
    }
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          ex.controller = controller;
          for (const chunk of collected) controller.enqueue(chunk);
        },
        pull: () => {
          if (this.paused && this.exchange === ex) {
            this.paused = false;
            this.socket?.resume();
          }
        },
        cancel: () => this.abandon(ex),
      },
      BODY_STRATEGY,
    );
    ex.respond(wire ? wireOf(head, null, stream) : new Response(stream, init!));
    return pos;
  }

  bodyChunk(chunk: Uint8Array): void {
    if (this.collecting !== null) {
      this.collecting.push(chunk);
      return;
    }
    const controller = this.exchange?.controller;
    if (controller === null || controller === undefined) return; // A body the Response cannot carry (205).
    controller.enqueue(chunk);
    if (!this.paused && (controller.desiredSize ?? 1) <= 0) {
      this.paused = true;
      this.socket?.pause();
    }
  }

  /** The response is fully read: read the next pipelined one, or pool the connection if both sides allow it; then end the body stream. */
  private complete(ex: Exchange): void {
    const controller = ex.controller;
    const trailers = this.decoder?.trailers;
    ex.finish();
    this.exchange = null;
    ex.conn = null;
    this.phase = Phase.Idle;
    this.decoder = null;
    this.served++;
    if (this.paused) {
      this.paused = false;
      this.socket?.resume();
    }
    const reusable = this.keepAlive && ex.requestSent && !ex.head.close && !this.closed;
    if (reusable && this.behind.length > 0) {
      // pipelined: the batch may still be in `pending`, which is fine — it holds only the next requests
      this.exchange = this.behind.shift()!;
      this.phase = Phase.Head;
      this.keepAlive = false;
    } else if (reusable && this.pending === null) this.pool.release(this);
    else this.destroy(); // requests still queued behind go again on other connections (rescueBehind)
    if (controller !== null) {
      try {
        controller.close();
      } catch {
        // Cancelled by the consumer meanwhile.
      }
    }
    if (trailers !== undefined && ex.onTrailers !== undefined) ex.onTrailers(trailers);
  }

  // ---- ending ----

  /**
   * The caller aborted or cancelled the body: the connection may be mid-message, so it is closed.
   * A pipelined request cannot be taken back either: the connection closes, and the exchange read
   * now and those behind go again on other connections when they may.
   */
  abandon(ex: Exchange): void {
    // a queued one takes the connection down with the exchange being read now
    let current: Exchange | null = null;
    if (this.exchange !== ex) {
      const i = this.behind.indexOf(ex);
      if (i < 0) return;
      this.behind.splice(i, 1);
      current = this.exchange;
    }
    this.exchange = null;
    ex.conn = null;
    ex.fail(new DOMException("response body cancelled", "AbortError"));
    this.destroy();
    if (current !== null) this.resend(current, "closed the connection: a request pipelined behind this one was cancelled");
  }

  /** `ex` lost its connection before its answer: once more on a new connection when that is safe, else it fails. */
  private resend(ex: Exchange, what: string): void {
    ex.conn = null;
    if (ex.finished) return;
    if (ex.mayRetry()) this.pool.retry(ex);
    else ex.fail(this.upstreamError(what));
  }

  /** The connection closed with pipelined exchanges waiting: none of them was answered, so each may go again. */
  private rescueBehind(): void {
    const behind = this.behind;
    if (behind.length === 0) return;
    this.behind = [];
    for (const ex of behind) this.resend(ex, "closed the connection before answering a pipelined request");
  }

  /** Fails the exchange; the pool may retry it on a new connection. */
  failWith(ex: Exchange, err: unknown): void {
    if (this.exchange === ex) {
      this.exchange = null;
      ex.conn = null;
    }
    this.destroy();
    ex.fail(err);
  }

  /** The server closed (FIN) or reset the connection. */
  onClosed(error: Error | undefined): void {
    const ex = this.exchange;
    // closed before answering the first of several pipelined requests: it may not take pipelining (Bun.serve with async handlers closes so)
    const refused = ex !== null && !ex.responseStarted && this.behind.length > 0;
    this.markClosed();
    if (refused) this.pool.pipelineRefused();
    if (ex === null) return;
    if (!error && this.phase === Phase.Body && this.decoder instanceof UntilCloseDecoder) {
      this.decoder.finish();
      this.complete(ex);
      return;
    }
    this.exchange = null;
    ex.conn = null;
    if ((this.served > 0 || refused) && ex.mayRetry()) {
      this.pool.retry(ex);
      return;
    }
    const what = ex.settled ? "closed the connection mid-body" : ex.responseStarted ? "closed the connection mid-response" : "closed the connection before responding";
    ex.fail(this.upstreamError(error ? `${what} (${error.message})` : what, error));
  }

  upstreamError(what: string, cause?: unknown): UpstreamError {
    return new UpstreamError(`upstream ${this.pool.hostHeader} ${what}`, cause);
  }

  /** Closes the socket now; never returns to the pool. */
  destroy(): void {
    if (this.closed) return;
    this.markClosed();
    this.socket?.terminate();
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.forget(this);
    this.pending = null;
    this.batchLength = 0;
    this.batchRequests = 0;
    this.wakeWriter();
    this.rescueBehind();
  }
}

/** Writes a serialized head (and the received lines it relays) into `target` at `at`, which has room; returns where it ends. */
function writeHead(head: HeadInfo, target: Buffer, at: number): number {
  let o = at + latin1Write(target, head.text, at);
  const relay = head.relay;
  if (relay === null) return o;
  for (const i of relay.lines) o = relay.raw.copyLine(i, target, o);
  target[o] = 13;
  target[o + 1] = 10;
  return o + 2;
}

/** The WireResponse for a parsed head: its lines in place when the scanner read it, else the parser's flat fields. */
function wireOf(head: ResponseHead, bytes: Uint8Array | null, stream: ReadableStream<Uint8Array> | null = null): WireResponse {
  const len = stream === null ? (bytes === null ? -1 : bytes.length) : head.contentLength;
  return head.raw !== undefined ? new WireResponse(head.status, head.raw, null, bytes, stream, len) : new WireResponse(head.status, head.statusText, head.fields, bytes, stream, len);
}

function parseHead(text: string, stripHopByHop: boolean): ResponseHead {
  try {
    return parseResponseHead(text, stripHopByHop);
  } catch (err) {
    // Headers.append refuses names with spaces or control bytes: that is a malformed response too.
    if (err instanceof ProtocolError) throw err;
    throw new ProtocolError((err as Error).message);
  }
}

/** One handler object for every socket (Bun reuses it); the socket's `data` is its Connection. */
export const SOCKET_HANDLERS: SocketHandler<Connection> = {
  data(socket, buf) {
    socket.data.onData(buf);
  },
  drain(socket) {
    socket.data.onDrain();
  },
  end(socket) {
    socket.data.onClosed(undefined);
    socket.terminate();
  },
  close(socket, error) {
    socket.data.onClosed(error);
  },
  error(socket, error) {
    socket.data.onClosed(error);
  },
  connectError() {
    // Reported by the rejected Bun.connect promise, which the pool handles.
  },
};
