import type { ServiceInstance } from "./types.ts";

/** An answer that is not what /v1/health/service returns: the caller keeps its last known set. */
export class MalformedAnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedAnswerError";
  }
}

/** Weight for an entry without Weights.Passing (Consul fills it in; older or foreign data may not). */
export const DEFAULT_WEIGHT = 100;

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === "object" && x !== null && !Array.isArray(x);

function stringRecord(x: unknown): Record<string, string> {
  if (!isObj(x)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(x)) if (typeof v === "string") out[k] = v;
  return out;
}

/**
 * Maps a /v1/health/service/<name> answer to instances: id = Service.ID, address = Service.Address
 * or else Node.Address, port = Service.Port, grpcPort = Meta.grpc_port, weight = Weights.Passing,
 * version = Meta.version.
 * A body that is not an array of {Node, Service} objects throws (never an empty set by accident);
 * a well-formed entry nobody can reach (no address, no port) is left out.
 */
export function toInstances(service: string, body: unknown): ServiceInstance[] {
  if (!Array.isArray(body)) throw new MalformedAnswerError(`health answer for ${service} is not a list`);
  const out: ServiceInstance[] = [];
  for (const entry of body) {
    if (!isObj(entry) || !isObj(entry.Service)) throw new MalformedAnswerError(`health answer for ${service} has an entry without Service`);
    const s = entry.Service;
    const node = isObj(entry.Node) ? entry.Node : {};
    if (typeof s.ID !== "string" || s.ID === "") throw new MalformedAnswerError(`health answer for ${service} has a service without ID`);
    const address = typeof s.Address === "string" && s.Address !== "" ? s.Address : typeof node.Address === "string" ? node.Address : "";
    const port = typeof s.Port === "number" && Number.isInteger(s.Port) ? s.Port : 0;
    if (address === "" || port <= 0 || port > 65535) continue;
    const meta = stringRecord(s.Meta);
    const grpc = Number(meta.grpc_port);
    const passing = isObj(s.Weights) ? s.Weights.Passing : undefined;
    out.push({
      id: s.ID,
      service,
      address,
      port,
      ...(Number.isInteger(grpc) && grpc > 0 && grpc <= 65535 ? { grpcPort: grpc } : {}),
      weight: typeof passing === "number" && Number.isFinite(passing) && passing > 0 ? passing : DEFAULT_WEIGHT,
      ...(meta.version !== undefined && meta.version !== "" ? { version: meta.version } : {}),
      tags: Array.isArray(s.Tags) ? s.Tags.filter((t): t is string => typeof t === "string") : [],
      meta,
    });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Same instances with the same fields (both lists sorted by id, as toInstances returns them). */
export function sameInstances(a: readonly ServiceInstance[], b: readonly ServiceInstance[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (fingerprint(a[i]!) !== fingerprint(b[i]!)) return false;
  return true;
}

function fingerprint(i: ServiceInstance): string {
  const meta = Object.keys(i.meta).sort().map((k) => [k, i.meta[k]]);
  return JSON.stringify([i.id, i.address, i.port, i.grpcPort ?? 0, i.weight, i.tags, meta]);
}
