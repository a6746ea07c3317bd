// Real servers for the HTTP/1.1 client tests: Bun.serve where a normal server will do, and a raw
// TCP server where a test needs exact bytes on the wire (chunk splits, early closes, bad framing).
import { afterEach } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { Http1Client, type Http1ClientOptions } from "../../../src/transport/http1/index.ts";

export interface RawRequest {
  /** Request line + fields as received (latin1). */
  head: string;
  method: string;
  path: string;
  /** Lower-cased field names → values (last wins). */
  headers: Map<string, string>;
  body: Buffer;
  /** 1-based request number on its connection. */
  seq: number;
}

export interface RawConn {
  /** 1-based connection number on this server. */
  readonly id: number;
  write(data: string | Uint8Array): number;
  end(): void;
  /** Drops the connection without a FIN handshake's politeness (RST if data is unread). */
  destroy(): void;
  readonly socket: Socket<ConnState>;
}

interface ConnState {
  conn: RawConn;
  buf: Buffer;
  seq: number;
  /** Answered on the head alone: the rest of this connection's bytes are ignored. */
  deaf: boolean;
}

export interface RawServer {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections closed so far (by either side). */
  readonly closed: number;
  /** Every request received, in order. */
  readonly requests: RawRequest[];
  stop(): void;
}

/**
 * A tiny HTTP/1.1 server on raw TCP: parses requests with Content-Length bodies
 * (enough for these tests) and lets `onRequest` write any bytes it likes.
 * `answerOnHead`: call `onRequest` as soon as the head is in, body unread (and ignored).
 */
export function rawServer(onRequest: (conn: RawConn, req: RawRequest) => void, options: { answerOnHead?: boolean } = {}): RawServer {
  let accepted = 0;
  let closed = 0;
  const requests: RawRequest[] = [];
  const listener: TCPSocketListener<ConnState> = Bun.listen<ConnState>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        const id = ++accepted;
        const conn: RawConn = {
          id,
          socket,
          write: (data) => socket.write(data),
          end: () => socket.end(),
          destroy: () => socket.terminate(),
        };
        socket.data = { conn, buf: Buffer.alloc(0), seq: 0, deaf: false };
      },
      data(socket, data) {
        const state = socket.data;
        if (state.deaf) return;
        state.buf = Buffer.concat([state.buf, data]);
        for (;;) {
          const end = state.buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          const head = state.buf.toString("latin1", 0, end);
          const lines = head.split("\r\n");
          const [method = "", path = ""] = lines[0]!.split(" ");
          const headers = new Map<string, string>();
          for (const line of lines.slice(1)) {
            const i = line.indexOf(":");
            headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
          }
          const length = Number(headers.get("content-length") ?? 0);
          if (options.answerOnHead) {
            state.deaf = true;
            const req: RawRequest = { head, method, path, headers, body: Buffer.alloc(0), seq: ++state.seq };
            requests.push(req);
            onRequest(state.conn, req);
            return;
          }
          if (state.buf.length < end + 4 + length) return;
          const body = Buffer.from(state.buf.subarray(end + 4, end + 4 + length));
          state.buf = Buffer.from(state.buf.subarray(end + 4 + length));
          const req: RawRequest = { head, method, path, headers, body, seq: ++state.seq };
          requests.push(req);
          onRequest(state.conn, req);
        }
      },
      close() {
        closed++;
      },
      error() {},
    },
  });
  return {
    get port() {
      return listener.port;
    },
    get accepted() {
      return accepted;
    },
    get closed() {
      return closed;
    },
    requests,
    stop: () => listener.stop(true),
  };
}

/** A Bun.serve on a free loopback port that records which client port (= connection) each request came on. */
export function countingServer(handler: (req: Request) => Response | Promise<Response>) {
  const clientPorts = new Set<number>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      const ip = srv.requestIP(req);
      if (ip) clientPorts.add(ip.port);
      return handler(req);
    },
  });
  return {
    port: server.port!,
    target: { address: "127.0.0.1", port: server.port! },
    /** Distinct client connections seen. */
    connections: () => clientPorts.size,
    stop: () => server.stop(true),
  };
}

/** Resolves when `check` holds, polling each event-loop turn (for socket events that land asynchronously). */
export async function until(check: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await Bun.sleep(1);
  }
}

/** A promise with its resolver outside, to gate a server until the test says so. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

export const OK_RESPONSE = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/**
 * Clients and raw servers for a test file, closed after each test: call once at the top level
 * (it registers the afterEach). `raw` servers carry their `{ address, port }` as `target`.
 */
export function perTest() {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });
  return {
    cleanups,
    client(options?: Http1ClientOptions): Http1Client {
      const c = new Http1Client(options);
      cleanups.push(() => c.close());
      return c;
    },
    raw(onRequest: Parameters<typeof rawServer>[0]) {
      const s = rawServer(onRequest);
      cleanups.push(() => s.stop());
      return Object.assign(s, { target: { address: "127.0.0.1", port: s.port } });
    },
  };
}
