import * as grpc from "@grpc/grpc-js";
import { readFileSync } from "node:fs";
import * as v from "valibot";

/**
 * `grpc_tls`: TLS on every role's gRPC port and on the roles' gRPC clients (role-to-role calls,
 * which carry the service credentials). The CA verifies the peers' certificates.
 */
export const GrpcTlsConfigSchema = v.pipe(
  v.object({
    enabled: v.optional(v.boolean("must be true or false"), false),
    cert_file: v.optional(v.pipe(v.string("must be a file path"), v.minLength(1, "must be a file path"))),
    key_file: v.optional(v.pipe(v.string("must be a file path"), v.minLength(1, "must be a file path"))),
    ca_file: v.optional(v.pipe(v.string("must be a file path"), v.minLength(1, "must be a file path"))),
    /**
     * The DNS name the roles' certificates carry, checked instead of the address dialled: peers are
     * found by IP (k8s pod IPs, static addresses), and TLS names no IP as a server name.
     */
    server_name: v.optional(v.pipe(v.string("must be a DNS name"), v.regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, "must be a DNS name"))),
  }),
  v.forward(v.check((c) => !c.enabled || c.cert_file !== undefined, "is required when grpc_tls.enabled is true"), ["cert_file"]),
  v.forward(v.check((c) => !c.enabled || c.key_file !== undefined, "is required when grpc_tls.enabled is true"), ["key_file"]),
  v.forward(v.check((c) => !c.enabled || c.ca_file !== undefined, "is required when grpc_tls.enabled is true"), ["ca_file"]),
);
export type GrpcTlsConfig = v.InferOutput<typeof GrpcTlsConfigSchema>;

/** What a role's gRPC server and clients speak: TLS with the configured files, or plaintext. */
export interface GrpcCredentials {
  server: grpc.ServerCredentials;
  client: () => grpc.ChannelCredentials;
  /** Channel options the clients add (the name checked against the peer's certificate). */
  channelOptions: grpc.ChannelOptions;
}

/** Reads the files once, at start-up (a missing file stops the role there, naming it). */
export function grpcCredentials(cfg: GrpcTlsConfig): GrpcCredentials {
  if (!cfg.enabled) return { server: grpc.ServerCredentials.createInsecure(), client: () => grpc.credentials.createInsecure(), channelOptions: {} };
  const read = (key: "cert_file" | "key_file" | "ca_file") => {
    try {
      return readFileSync(cfg[key]!);
    } catch (err) {
      throw new Error(`grpc_tls.${key}: cannot read ${cfg[key]}: ${(err as Error).message}`);
    }
  };
  const [cert, key, ca] = [read("cert_file"), read("key_file"), read("ca_file")];
  return {
    server: grpc.ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], false),
    client: () => grpc.credentials.createSsl(ca),
    channelOptions: cfg.server_name !== undefined ? { "grpc.ssl_target_name_override": cfg.server_name, "grpc.default_authority": cfg.server_name } : {},
  };
}
