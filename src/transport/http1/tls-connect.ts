import type { Socket, SocketHandler } from "bun";
import type { Connection } from "./connection.ts";
import { SOCKET_HANDLERS } from "./connection.ts";

/** What the client verifies an upstream's certificate with. */
export interface Http1ClientTls {
  /** PEM CA certificate(s) the upstream's chain must lead to. */
  ca: string;
  /** The name checked against the certificate instead of the address dialled (upstreams are found by IP). */
  serverName?: string;
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
export function connectTls(conn: Connection, hostname: string, port: number, tls: Http1ClientTls): Promise<Socket<Connection>> {
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
