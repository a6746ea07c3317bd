// Free loopback ports picked at run time: other programs on this machine hold fixed ones.
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";

/**
 * A TCP port on `host` that was free a moment ago. Picked below the kernel's
 * ephemeral range: a port from there (what binding to 0 gives) can be taken as
 * the source port of any outgoing connection between our pick and the server's
 * bind — under load (wrk, connection pools) that happened, and a server failed
 * with "port in use". Ports handed out once are not handed out again by this process.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const top = ephemeralStart() - 1;
  const bottom = 20_000;
  if (top - bottom >= 1_000) {
    for (let i = 0; i < 200; i++) {
      const port = bottom + Math.floor(Math.random() * (top - bottom));
      if (handedOut.has(port)) continue;
      const bound = await listenOn(host, port).catch(() => null);
      if (bound !== null) {
        handedOut.add(port);
        return bound;
      }
    }
  }
  // an unusual range setting: let the kernel pick
  const port = await listenOn(host, 0);
  handedOut.add(port);
  return port;
}

const handedOut = new Set<number>();

/** First port of the kernel's ephemeral range (32768 when it cannot be read), at most 32768. */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 0 ? Math.min(first, 32_768) : 32_768;
  } catch {
    return 32_768;
  }
}

/** Binds `port` (0: any) on `host` exclusively, releases it, and says which port it was. */
function listenOn(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port, host, exclusive: true }, () => {
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
