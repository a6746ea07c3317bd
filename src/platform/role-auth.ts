import { type AuthConfig, Authenticator, loadSigningKey, mintToken, SERVICE_SUB_PREFIX } from "./auth.ts";
import { ForbiddenError } from "./errors.ts";
import { LOCAL_OPERATOR, type Principal } from "./principal.ts";

/**
 * How one role checks who calls it and proves who it is when it calls another role
 * (docs/security.md). Built once per role from the top-level `auth` section.
 */
export interface RoleAuth {
  readonly enabled: boolean;
  /** The caller behind an Authorization header (or gRPC `authorization` metadata); throws 401. A token seen before is answered without a promise. */
  authenticate(authorization: string | null): Principal | Promise<Principal>;
  /** Whether this exact Authorization value was verified before (its answer needs no signature check). */
  isCached(authorization: string | null): boolean;
  /** The Authorization value for this role's calls to other roles; undefined when auth is off. */
  serviceAuthorization(): Promise<string | undefined>;
  /** /admin/*: a credential with the admin claim (anyone when auth is off). */
  requireAdmin(authorization: string | null): Promise<void>;
}

export async function createRoleAuth(cfg: AuthConfig, dataDir: string, role: string): Promise<RoleAuth> {
  if (!cfg.enabled) {
    return {
      enabled: false,
      authenticate: () => LOCAL_OPERATOR,
      isCached: () => true,
      serviceAuthorization: async () => undefined,
      requireAdmin: async () => {},
    };
  }
  const { auth } = await Authenticator.create(cfg, dataDir);
  const credential = new ServiceCredential(cfg, role, await loadSigningKey(cfg, dataDir));
  return {
    enabled: true,
    authenticate: (h) => auth.authenticate(h),
    isCached: (h) => auth.isCached(h),
    serviceAuthorization: () => credential.authorization(),
    requireAdmin: async (h) => {
      const p = await auth.authenticate(h);
      if (!p.admin) throw new ForbiddenError("this endpoint needs a token with the admin claim");
    },
  };
}

/**
 * A role's own short-lived credential (`sub: "service:<role>"`), minted with the shared key and
 * minted again once half its lifetime is gone, so a call never carries one about to expire.
 */
export class ServiceCredential {
  private current: { header: string; renewAt: number } | undefined;
  private minting: Promise<string> | undefined;

  constructor(
    private readonly cfg: AuthConfig,
    private readonly role: string,
    private readonly key: string | CryptoKey | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async authorization(): Promise<string> {
    const c = this.current;
    if (c !== undefined && this.now() < c.renewAt) return c.header;
    return (this.minting ??= this.mint().finally(() => (this.minting = undefined)));
  }

  private async mint(): Promise<string> {
    if (this.key === undefined) throw new ForbiddenError("this role cannot sign service credentials: set auth.private_key_file (auth verifies with a public key)");
    const ttlSeconds = Math.max(10, Math.round(this.cfg.service_token_ttl / 1000));
    const started = this.now();
    const header = `Bearer ${await mintToken(this.key, this.cfg, `${SERVICE_SUB_PREFIX}${this.role}`, ttlSeconds, { now: started })}`;
    this.current = { header, renewAt: started + (ttlSeconds * 1000) / 2 };
    return header;
  }
}
