import type { Socket, SocketHandler } from "bun";
import { UpstreamError } from "./errors.ts";
import { Connection, SOCKET_HANDLERS } from "./connection.ts";
import type { Exchange } from "./exchange.ts";
import type { Http1ClientTls } from "./types.ts";

/** How long an upstream that refused pipelined requests gets one request per connection before pipelining is tried again. */
export const PIPELINE_BACKOFF_MS = 60_000;

/** What a pool needs from its client: limits, the sweeper's tick, counters. */
export interface PoolOwner {
  readonly maxIdlePerUpstream: number;
  readonly maxHeaderBytes: number;
  readonly closed: boolean;
  readonly tick: number;
  readonly pipelineDepth: number;
  /** Upstreams speak TLS, verified with this; undefined: plaintext. */
  readonly tls: Http1ClientTls | undefined;
  onIdle(): void;
  countOpened(): void;
  countRetry(): void;
  countPipelined(): void;
  countPipelineRefusal(): void;
  now(): number;
  flushLater(conn: Connection): void;
  clearDeadline(ex: Exchange): void;
}

/**
 * Keep-alive connections to one upstream. Idle ones form a stack: the most
 * recently used is reused first (warm), the bottom ones age out in the sweeper.
 */
export class UpstreamPool {
  /** Oldest first; take() pops the newest. */
  readonly idle: Connection[] = [];
  /** `Host` field value; also names the upstream in errors. */
  readonly hostHeader: string;
  /** Removed from the client's map (no connections left): releases close instead of pooling. */
  detached = false;
  /** Connections open or opening. */
  open = 0;
  /** The connection taking pipelined requests this loop turn (written when the turn ends). */
  filling: Connection | null = null;
  /** While non-zero, the epoch ms until which this upstream gets no pipelined requests (it refused some). */
  pipelineOffUntil = 0;

  constructor(
    private readonly owner: PoolOwner,
    readonly address: string,
    readonly port: number,
  ) {
    this.hostHeader = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
  }

  get maxHeaderBytes(): number {
    return this.owner.maxHeaderBytes;
  }

  /** Sends `ex` on the newest idle connection, else on a new one; a pipelinable request may join this turn's batch. */
  dispatch(ex: Exchange): boolean {
    if (ex.pipelinable && this.owner.pipelineDepth > 1 && this.pipelineAllowed()) return this.dispatchPipelined(ex);
    const conn = this.takeIdle();
    if (conn === null) {
      this.connect(ex);
      return false;
    }
    conn.send(ex);
    return true;
  }

  /** The newest idle connection still open, off the idle stack; null when none. */
  private takeIdle(): Connection | null {
    const idle = this.idle;
    while (idle.length > 0) {
      const conn = idle.pop()!;
      conn.inIdleList = false;
      if (!conn.closed) return conn;
    }
    return null;
  }

  /**
   * Joins the connection filled this loop turn while it has room, else starts filling the
   * newest idle one; with none idle, opens a connection for it alone. The batch is written
   * once when the turn ends (Connection.flushBatch).
   */
  private dispatchPipelined(ex: Exchange): boolean {
    const filling = this.filling;
    if (filling !== null && !filling.closed && filling.inFlight < this.owner.pipelineDepth) {
      filling.enqueue(ex);
      this.owner.countPipelined();
      return true;
    }
    const conn = this.takeIdle();
    if (conn === null) {
      this.connect(ex);
      return false;
    }
    conn.enqueue(ex);
    this.filling = conn;
    this.owner.flushLater(conn);
    return true;
  }

  private pipelineAllowed(): boolean {
    if (this.pipelineOffUntil === 0) return true;
    if (this.owner.now() < this.pipelineOffUntil) return false;
    this.pipelineOffUntil = 0;
    return true;
  }

  /** A connection closed before answering the requests pipelined on it: send them one per connection for a while. */
  pipelineRefused(): void {
    this.owner.countPipelineRefusal();
    this.pipelineOffUntil = this.owner.now() + PIPELINE_BACKOFF_MS;
  }

  /** A reused connection died before any response byte and repeating is safe: once more, on a fresh connection. */
  retry(ex: Exchange): void {
    ex.retried = true;
    this.owner.countRetry();
    this.connect(ex);
  }

  private connect(ex: Exchange): void {
    const conn = new Connection(this);
    this.open++;
    this.owner.countOpened();
    const tls = this.owner.tls;
    const connecting = tls === undefined ? Bun.connect<Connection>({ hostname: this.address, port: this.port, socket: SOCKET_HANDLERS, data: conn }) : connectTls(conn, this.address, this.port, tls);
    connecting.then(
      (socket) => {
        conn.attach(socket);
        if (conn.closed) {
          ex.fail(new UpstreamError(`upstream ${this.hostHeader} closed the connection as it opened`));
          return;
        }
        // Aborted while connecting: keep the fresh connection for the next request.
        if (ex.finished) this.release(conn);
        else conn.send(ex);
      },
      (err: unknown) => {
        if (!conn.closed) {
          conn.closed = true;
          this.open--;
        }
        ex.fail(new UpstreamError(`upstream ${this.hostHeader} refused or failed to connect: ${(err as Error)?.message ?? String(err)}`, err));
      },
    );
  }

  clearDeadline(ex: Exchange): void {
    this.owner.clearDeadline(ex);
  }

  /** Called when a connection finished a response that allows keep-alive. */
  release(conn: Connection): void {
    if (this.owner.closed || this.detached || this.idle.length >= this.owner.maxIdlePerUpstream) {
      conn.destroy();
      return;
    }
    conn.idleTick = this.owner.tick;
    conn.inIdleList = true;
    this.idle.push(conn);
    this.owner.onIdle();
  }

  /** A connection closed (by us or the server): drop it from the idle stack. */
  forget(conn: Connection): void {
    this.open--;
    if (!conn.inIdleList) return;
    conn.inIdleList = false;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Closes connections idle since `tick` or before; the stack is in release order, so they are at the bottom. */
  closeIdleSince(tick: number): void {
    const idle = this.idle;
    let n = 0;
    while (n < idle.length && idle[n]!.idleTick <= tick) n++;
    if (n === 0) return;
    for (const conn of idle.splice(0, n)) {
      conn.inIdleList = false;
      conn.destroy();
    }
  }

  closeAllIdle(): void {
    this.closeIdleSince(Infinity);
  }
}

/** Set on a connection while its TLS handshake runs: called once, with the error if it failed or the socket closed first. */
type HandshakeWaiter = (socket: Socket<Connection> | null, error?: Error) => void;
const waiters = new WeakMap<Connection, HandshakeWaiter>();

function settle(conn: Connection, socket: Socket<Connection> | null, error?: Error): void {
  const waiter = waiters.get(conn);
  if (waiter === undefined) return;
  waiters.delete(conn);
  waiter(socket, error);
}

/** The plain handlers, plus the handshake's outcome; a close before it ends the wait with an error. */
const TLS_SOCKET_HANDLERS: SocketHandler<Connection> = {
  ...SOCKET_HANDLERS,
  handshake(socket, success, authorizationError) {
    if (success) settle(socket.data, socket);
    else {
      settle(socket.data, null, new Error(`TLS handshake failed: ${authorizationError?.message ?? "certificate not verified"}`));
      socket.terminate();
    }
  },
  end(socket) {
    settle(socket.data, null, new Error("closed during the TLS handshake"));
    SOCKET_HANDLERS.end!(socket);
  },
  close(socket, error) {
    settle(socket.data, null, error ?? new Error("closed during the TLS handshake"));
    SOCKET_HANDLERS.close!(socket, error);
  },
  error(socket, error) {
    settle(socket.data, null, error);
    SOCKET_HANDLERS.error!(socket, error);
  },
};

/**
 * Bun.connect with TLS, resolving once the handshake verified the upstream's certificate
 * against `tls.ca` (bytes written before that would be refused), rejecting if it did not.
 */
function connectTls(conn: Connection, hostname: string, port: number, tls: Http1ClientTls): Promise<Socket<Connection>> {
  return new Promise((resolve, reject) => {
    waiters.set(conn, (socket, error) => (error === undefined ? resolve(socket!) : reject(error)));
    Bun.connect<Connection>({
      hostname,
      port,
      tls: { ca: tls.ca, rejectUnauthorized: true, ...(tls.serverName !== undefined ? { serverName: tls.serverName } : {}) },
      socket: TLS_SOCKET_HANDLERS,
      data: conn,
    }).then(undefined, (err: unknown) => {
      waiters.delete(conn);
      reject(err);
    });
  });
}
