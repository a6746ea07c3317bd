import * as v from "valibot";
import { loadConfig } from "../../config/loader.ts";
import { GatewayConfigSchema } from "./config.ts";
import { loadOrCreateSecret, mintToken, parseTtlSeconds } from "../../platform/auth.ts";

/** `bpm token --sub=USER [--ttl=1h] [--admin]`: mints an HS256 token the gateway accepts. */
export async function tokenCommand(cmd: { sub: string; ttl: string; admin: boolean; configFile?: string; dataDir?: string }): Promise<number> {
  const config = await loadConfig({ file: cmd.configFile, overrides: cmd.dataDir ? { data_dir: cmd.dataDir } : undefined });
  const gw = v.parse(GatewayConfigSchema, config.gateway);
  if (gw.auth.jwks_file || gw.auth.public_key_file) {
    process.stderr.write("token: the gateway verifies with a public key; mint tokens with the matching private key instead\n");
    return 2;
  }
  const { secret, generated, path } = loadOrCreateSecret(gw.auth, config.data_dir);
  if (generated) process.stderr.write(`token: made a new secret at ${path}\n`);
  process.stdout.write((await mintToken(secret, gw.auth, cmd.sub, parseTtlSeconds(cmd.ttl), cmd.admin)) + "\n");
  return 0;
}
