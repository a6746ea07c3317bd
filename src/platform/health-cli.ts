import { readFileSync } from "node:fs";
import { UsageError } from "../config/loader.ts";

/**
 * `bpm health`: exit 0 when the local /health answers UP (used by container HEALTHCHECKs).
 * With `tls` (--ca), HTTPS verified against that CA, and against `serverName` instead of the host when given.
 */
export async function healthCommand(host: string, port: number | undefined, tls?: { ca: string; serverName?: string }): Promise<number> {
  const ports = port ? [port] : [8000, 8082, 8081, 8080];
  let ca: string | undefined;
  if (tls !== undefined) {
    try {
      ca = readFileSync(tls.ca, "utf8");
    } catch (err) {
      throw new UsageError(`health: --ca: cannot read ${tls.ca}: ${(err as Error).message}`);
    }
  }
  const scheme = ca !== undefined ? "https" : "http";
  const hostPart = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  for (const p of ports) {
    try {
      const res = await fetch(`${scheme}://${hostPart}:${p}/health`, {
        signal: AbortSignal.timeout(3_000),
        ...(ca !== undefined ? { tls: { ca, ...(tls?.serverName !== undefined ? { serverName: tls.serverName } : {}) } } : {}),
      });
      const body = (await res.json()) as { status?: string };
      console.log(`${host}:${p} ${body.status ?? "?"}`);
      return body.status === "UP" ? 0 : 1;
    } catch (err) {
      if (port) {
        console.log(`${host}:${p} unreachable${ca !== undefined ? ` over verified HTTPS (${(err as Error).message.split("\n")[0]})` : ""}`);
        return 1;
      }
    }
  }
  console.log("no bpm /health answered on the default ports");
  return 1;
}
