import type { Config, Role } from "../config/schema.ts";
import type { Logger } from "../core/logger.ts";
import { StaticRegistry } from "./static.ts";
import type { Registry, ServiceInstance } from "./types.ts";

export function staticInstancesFromConfig(config: Config): Record<string, ServiceInstance[]> {
  const out: Record<string, ServiceInstance[]> = {};
  for (const [service, list] of Object.entries(config.discovery.static)) {
    out[service] = (list ?? []).map((i) => ({
      id: i.id ?? `${service}-${i.address}-${i.port}`,
      service,
      address: i.address,
      port: i.port,
      grpcPort: i.grpc_port,
      weight: i.weight,
      ...(i.version !== undefined ? { version: i.version } : {}),
      tags: i.tags,
      meta: { ...(i.grpc_port ? { grpc_port: String(i.grpc_port) } : {}), ...(i.version !== undefined ? { version: i.version } : {}) } as Record<string, string>,
    }));
  }
  return out;
}

/** The discovery source config asks for. */
export async function createRegistry(config: Config, log: Logger): Promise<Registry> {
  if (config.discovery.mode === "consul") {
    const { createConsulRegistry } = await import("./consul.ts");
    return createConsulRegistry(config, log);
  }
  return new StaticRegistry(staticInstancesFromConfig(config));
}

/** Registers this process's role instances where discovery needs them (Consul); static discovery needs nothing. */
export interface Registrar {
  register(role: Role, httpPort: number, grpcPort?: number): void;
  /** Removes every registration; run in the lifecycle's announce phase, before listeners close. */
  deregisterAll(): Promise<void>;
}

export async function createRegistrar(config: Config, log: Logger, version: string, registry: Registry): Promise<Registrar | undefined> {
  if (config.discovery.mode !== "consul") return undefined;
  const { createConsulRegistrar } = await import("./consul.ts");
  return createConsulRegistrar(config, log, version, registry);
}

export function selfInstance(role: Role, address: string, httpPort: number, grpcPort: number | undefined, version: string): ServiceInstance {
  return {
    id: `${role}-${address}-${httpPort}`,
    service: role,
    address,
    port: httpPort,
    grpcPort,
    weight: 100,
    version,
    tags: [],
    meta: { role, version, ...(grpcPort ? { grpc_port: String(grpcPort) } : {}) },
  };
}
