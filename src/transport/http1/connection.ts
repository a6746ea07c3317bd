import type { Socket, SocketHandler } from "bun";
import { UpstreamError } from "../../platform/errors.ts";
import { type BodyDecoder, type BodySink, ChunkedDecoder, LengthDecoder, UntilCloseDecoder } from "./body-decoder.ts";
import type { Exchange } from "./exchange.ts";
import type { UpstreamPool } from "./pool.ts";
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

/** One keep-alive TCP connection to an upstream, carrying one exchange at a time (no pipelining). */
export class Connection implements BodySink {
  socket: TcpSocket | null = null;
  exchange: Exchange | null = null;
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

  constructor(readonly pool: UpstreamPool) {}

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
      writeHead(head, SCRATCH);
      SCRATCH.set(bytes, headLength);
      this.writeScratch(headLength + bytes.length);
      ex.bodyBytesWritten = bytes.length;
      ex.requestSent = true;
    } else {
      if (headLength <= SCRATCH.length) {
        writeHead(head, SCRATCH);
        this.writeScratch(headLength);
      } else {
        const buf = Buffer.allocUnsafe(headLength);
        writeHead(head, buf);
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
    const ex = this.exchange;
    if (ex === null || this.phase === Phase.Idle) {
      // Bytes nobody asked for (or after the response): the stream is out of step, never reuse it.
      this.destroy();
      return;
    }
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
          if (this.exchange !== ex) {
            // Response complete: anything after it is a protocol violation (we do not pipeline).
            if (pos < data.length) this.destroy();
            return;
          }
        } else {
          const decoder = this.decoder!;
          pos = decoder.decode(data, pos, this);
          if (decoder.done) {
            if (pos < data.length) this.keepAlive = false;
            this.complete(ex);
            return;
          }
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
      if (pos < data.length) this.keepAlive = false;
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
      if (pos < data.length) this.keepAlive = false;
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

  /** The response is fully read: pool the connection if both sides allow it, then end the body stream. */
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
    if (this.keepAlive && ex.requestSent && !ex.head.close && this.pending === null && !this.closed) this.pool.release(this);
    else this.destroy();
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

  /** The caller aborted or cancelled the body: the connection may be mid-message, so it is closed. */
  abandon(ex: Exchange): void {
    if (this.exchange !== ex) return;
    this.exchange = null;
    ex.conn = null;
    ex.fail(new DOMException("response body cancelled", "AbortError"));
    this.destroy();
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
    this.markClosed();
    const ex = this.exchange;
    if (ex === null) return;
    if (!error && this.phase === Phase.Body && this.decoder instanceof UntilCloseDecoder) {
      this.decoder.finish();
      this.complete(ex);
      return;
    }
    this.exchange = null;
    ex.conn = null;
    if (this.served > 0 && ex.mayRetry()) {
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
    this.wakeWriter();
  }
}

/** Writes a serialized head (and the received lines it relays) at the start of `target`, which has room. */
function writeHead(head: HeadInfo, target: Buffer): void {
  let o = latin1Write(target, head.text, 0);
  const relay = head.relay;
  if (relay === null) return;
  for (const i of relay.lines) o = relay.raw.copyLine(i, target, o);
  target[o] = 13;
  target[o + 1] = 10;
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
