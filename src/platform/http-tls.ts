import { readFileSync } from "node:fs";
import * as v from "valibot";

const filePath = v.optional(v.pipe(v.string("must be a file path"), v.minLength(1, "must be a file path")));

/**
 * `http_tls`: TLS on the HTTP listeners (docs/security.md "TLS"). The gateway's client-facing
 * front serves HTTPS with `cert_file`/`key_file`; `ca_file` is the CA the roles' HTTP clients
 * verify their peers' certificates with.
 */
export const HttpTlsConfigSchema = v.pipe(
  v.object({
    enabled: v.optional(v.boolean("must be true or false"), false),
    cert_file: filePath,
    key_file: filePath,
    ca_file: filePath,
    /** The DNS name the roles' certificates carry, checked instead of the address dialled (peers are found by IP). */
    server_name: v.optional(v.pipe(v.string("must be a DNS name"), v.regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, "must be a DNS name"))),
  }),
  v.forward(v.check((c) => !c.enabled || c.cert_file !== undefined, "is required when http_tls.enabled is true"), ["cert_file"]),
  v.forward(v.check((c) => !c.enabled || c.key_file !== undefined, "is required when http_tls.enabled is true"), ["key_file"]),
  v.forward(v.check((c) => !c.enabled || c.ca_file !== undefined, "is required when http_tls.enabled is true"), ["ca_file"]),
);
export type HttpTlsConfig = v.InferOutput<typeof HttpTlsConfigSchema>;

/** The PEM files a TLS listener serves and its clients verify with, read at start-up. */
export interface HttpTlsFiles {
  cert: string;
  key: string;
  ca: string;
  /** Checked against the peer's certificate instead of the host dialled, when set. */
  serverName?: string;
}

/** Reads the files once, at start-up (a missing file stops the role there, naming it); undefined when TLS is off. */
export function httpTlsFiles(cfg: HttpTlsConfig): HttpTlsFiles | undefined {
  if (!cfg.enabled) return undefined;
  const read = (key: "cert_file" | "key_file" | "ca_file") => {
    try {
      return readFileSync(cfg[key]!, "utf8");
    } catch (err) {
      throw new Error(`http_tls.${key}: cannot read ${cfg[key]}: ${(err as Error).message}`);
    }
  };
  return { cert: read("cert_file"), key: read("key_file"), ca: read("ca_file"), ...(cfg.server_name !== undefined ? { serverName: cfg.server_name } : {}) };
}

/** fetch()'s `tls` option verifying a peer with the configured CA and name. */
export function fetchTls(files: Pick<HttpTlsFiles, "ca" | "serverName">): { ca: string; serverName?: string } {
  return { ca: files.ca, ...(files.serverName !== undefined ? { serverName: files.serverName } : {}) };
}
