// Free loopback ports picked at run time: other programs on this machine hold fixed ones.
import { createServer } from "node:net";
import { createSocket } from "node:dgram";

/** A TCP port on `host` that was free a moment ago (bound to 0, then released). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error(`freePort: no port from ${host}`));
      });
    });
  });
}

function udpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    socket.once("error", () => resolve(false));
    socket.bind({ port, address: host, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

/** `count` distinct ports on `host`, each free for TCP and UDP (Consul's serf uses both). */
export async function freePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    const port = await freePort(host);
    if (await udpFree(host, port)) ports.add(port);
  }
  return [...ports];
}
