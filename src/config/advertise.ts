import { networkInterfaces } from "node:os";

/** Addresses that accept connections on every interface: they name no one interface to advertise. */
const WILDCARDS = new Set(["0.0.0.0", "::", "[::]", "*"]);

type Interfaces = ReturnType<typeof networkInterfaces>;

/**
 * `advertise_address: auto` (BPM_ADVERTISE_ADDRESS=auto): the address Consul and peers should use for this
 * instance, found at start-up. A listener bound to one address (http.host 127.0.0.1 on a host network)
 * advertises that address; a wildcard listener advertises the first non-internal IPv4 address (the pod's
 * or the container's own), else 127.0.0.1. Any other value is kept as it is.
 */
export function resolveAdvertiseAddress(value: string, listenHost: string, interfaces: Interfaces = networkInterfaces()): string {
  if (value !== "auto") return value;
  if (!WILDCARDS.has(listenHost)) return listenHost;
  const names = Object.keys(interfaces).sort();
  for (const name of names) {
    for (const a of interfaces[name] ?? []) {
      if (a.family === "IPv4" && !a.internal) return a.address;
    }
  }
  return "127.0.0.1";
}
