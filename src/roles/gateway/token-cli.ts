import { loadConfig } from "../../config/loader.ts";
import { loadOrCreateSecret, mintToken, parseTtlSeconds } from "../../platform/auth.ts";

/** `bpm token --sub=USER [--ttl=1h] [--admin] [--roles=designer]`: mints an HS256 token every role accepts. */
export async function tokenCommand(cmd: { sub: string; ttl: string; admin: boolean; roles: string[]; configFile?: string; dataDir?: string }): Promise<number> {
  const config = await loadConfig({ file: cmd.configFile, overrides: cmd.dataDir ? { data_dir: cmd.dataDir } : undefined });
  const auth = config.auth;
  if (auth.jwks_file || auth.public_key_file) {
    process.stderr.write("token: the roles verify with a public key; mint tokens with the matching private key instead\n");
    return 2;
  }
  const { secret, generated, path } = loadOrCreateSecret(auth, config.data_dir);
  if (generated) process.stderr.write(`token: made a new secret at ${path}\n`);
  process.stdout.write((await mintToken(secret, auth, cmd.sub, parseTtlSeconds(cmd.ttl), { admin: cmd.admin, roles: cmd.roles })) + "\n");
  return 0;
}
