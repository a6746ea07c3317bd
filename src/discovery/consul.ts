import type { Config } from "../config/schema.ts";
import type { Logger } from "../platform/logger.ts";
import type { Registry } from "./types.ts";

/** Consul discovery (issue 4). */
export async function createConsulRegistry(_config: Config, _log: Logger): Promise<Registry> {
  throw new Error("consul discovery is not built yet; use discovery.mode: static");
}
