import { createLocalJWKSet, errors as joseErrors, importPKCS8, importSPKI, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { createSecretKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { durationMs } from "../config/duration.ts";
import { UnauthorizedError, ForbiddenError } from "./errors.ts";
import { principalOf, type Identity, type Principal } from "./principal.ts";

/**
 * The top-level `auth` section: how every role verifies bearer tokens (users' and the roles' own
 * service credentials). Every role of one deployment must share the same key (docs/security.md).
 */
export const AuthConfigSchema = v.object({
  enabled: v.optional(v.boolean("must be true or false"), true),
  /** Accepted JWS algorithms; `none` is never accepted. */
  algorithms: v.optional(v.array(v.picklist(["HS256", "HS384", "HS512", "RS256", "ES256"], "must be HS256, HS384, HS512, RS256 or ES256")), ["HS256"]),
  /** HMAC secret; when absent a random one is made on first run under the data dir. */
  secret: v.optional(v.pipe(v.string(), v.minLength(32, "must be at least 32 characters"))),
  public_key_file: v.optional(v.string()),
  jwks_file: v.optional(v.string()),
  issuer: v.optional(v.string(), "bpm"),
  audience: v.optional(v.string(), "bpm-api"),
  clock_tolerance: v.optional(durationMs("a clock tolerance"), 5_000),
  admin_claim: v.optional(v.string(), "admin"),
  roles_claim: v.optional(v.string(), "roles"),
  /** With public_key_file/jwks_file: the private key (PKCS#8 PEM) a role signs its service credentials with. */
  private_key_file: v.optional(v.string()),
  /** Lifetime of the service credentials a role mints for its calls to other roles. */
  service_token_ttl: v.optional(durationMs("the service token lifetime"), 300_000),
});
export type AuthConfig = v.InferOutput<typeof AuthConfigSchema>;

export type { Identity } from "./principal.ts";

/**
 * Headers that once carried identity between roles. No role reads them; the gateway still strips
 * them from every request so nothing downstream can be misled by a forged one.
 */
export const LEGACY_IDENTITY_HEADERS = ["x-bpm-user-id", "x-bpm-user-admin"] as const;

/** `sub` of a role's own credential: `service:<role>`. */
export const SERVICE_SUB_PREFIX = "service:";

const SECRET_FILE = "gateway-jwt-secret";

/** The HMAC secret: from config, else the data dir's (made on first run, 0600). Returns whether it was just made. */
export function loadOrCreateSecret(cfg: AuthConfig, dataDir: string): { secret: string; generated: boolean; path?: string } {
  if (cfg.secret) return { secret: cfg.secret, generated: false };
  const path = join(dataDir, SECRET_FILE);
  if (existsSync(path)) return { secret: readFileSync(path, "utf8").trim(), generated: false, path };
  mkdirSync(dataDir, { recursive: true });
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  writeFileSync(path, secret + "\n", { mode: 0o600 });
  return { secret, generated: true, path };
}

export function parseTtlSeconds(ttl: string): number {
  const m = /^(\d+)([smhd])$/.exec(ttl);
  if (!m) throw new Error(`bad ttl ${ttl}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
}

export interface MintOptions {
  admin?: boolean;
  roles?: readonly string[];
  /** Issue time, epoch ms (default: now). */
  now?: number;
}

/** Signs a token with an HMAC secret (HS256) or a private key (RS256/ES256, from `auth.private_key_file`). */
export async function mintToken(key: string | CryptoKey, cfg: AuthConfig, sub: string, ttlSeconds: number, opts: MintOptions | boolean = {}): Promise<string> {
  const o: MintOptions = typeof opts === "boolean" ? { admin: opts } : opts;
  const claims: Record<string, unknown> = {};
  if (o.admin) claims[cfg.admin_claim] = true;
  if (o.roles && o.roles.length > 0) claims[cfg.roles_claim] = [...o.roles];
  const alg = typeof key === "string" ? "HS256" : (cfg.algorithms.find((a) => a === "RS256" || a === "ES256") ?? "RS256");
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg, typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt(o.now === undefined ? undefined : Math.floor(o.now / 1000))
    .setNotBefore(o.now === undefined ? "0s" : Math.floor(o.now / 1000))
    .setExpirationTime(o.now === undefined ? `${ttlSeconds}s` : Math.floor(o.now / 1000) + ttlSeconds);
  if (cfg.issuer) jwt.setIssuer(cfg.issuer);
  if (cfg.audience) jwt.setAudience(cfg.audience);
  return jwt.sign(typeof key === "string" ? new TextEncoder().encode(key) : key);
}

/** The key a role signs its service credentials with: the HMAC secret, or `auth.private_key_file`. */
export async function loadSigningKey(cfg: AuthConfig, dataDir: string): Promise<string | CryptoKey | undefined> {
  if (cfg.private_key_file) {
    const asym = cfg.algorithms.find((a) => a === "RS256" || a === "ES256");
    if (!asym) throw new Error("auth.private_key_file needs RS256 or ES256 in auth.algorithms");
    return importPKCS8(readFileSync(cfg.private_key_file, "utf8"), asym);
  }
  if (cfg.jwks_file || cfg.public_key_file) return undefined;
  return loadOrCreateSecret(cfg, dataDir).secret;
}

type Key = Uint8Array | CryptoKey | JWTVerifyGetKey;

/**
 * Verifies bearer tokens with jose. A verified token is cached (bounded) so the hot
 * path pays for a signature once per token; exp/nbf are still checked on every use.
 */
export class Authenticator {
  private readonly cache = new Map<string, { identity: Principal; exp: number; nbf: number }>();
  private static readonly MAX_CACHED = 10_000;

  private constructor(private readonly cfg: AuthConfig, private readonly key: Key) {}

  static async create(cfg: AuthConfig, dataDir: string): Promise<{ auth: Authenticator; secret?: string; generated: boolean }> {
    if (cfg.jwks_file) {
      const jwks = JSON.parse(readFileSync(cfg.jwks_file, "utf8"));
      return { auth: new Authenticator(cfg, createLocalJWKSet(jwks)), generated: false };
    }
    if (cfg.public_key_file) {
      const asym = cfg.algorithms.find((a) => a === "RS256" || a === "ES256");
      if (!asym) throw new Error("auth.public_key_file needs RS256 or ES256 in auth.algorithms");
      return { auth: new Authenticator(cfg, await importSPKI(readFileSync(cfg.public_key_file, "utf8"), asym)), generated: false };
    }
    const { secret, generated } = loadOrCreateSecret(cfg, dataDir);
    // a KeyObject made once: raw bytes would make jose import the key on every verification
    return { auth: new Authenticator(cfg, createSecretKey(Buffer.from(secret, "utf8")) as unknown as CryptoKey), secret, generated };
  }

  /**
   * The identity behind an Authorization header, or a 401 saying why not.
   * A token verified before is answered without a promise (the hot path); a new
   * one is verified with jose.
   */
  authenticate(authorization: string | null): Principal | Promise<Principal> {
    if (!authorization) throw new UnauthorizedError("missing bearer token");
    const tolerance = this.cfg.clock_tolerance / 1000;
    // verified before under exactly this header value: no parsing at all
    const hit = this.cache.get(authorization);
    if (hit) {
      const now = Date.now() / 1000;
      if (hit.exp + tolerance < now) throw new UnauthorizedError("token expired");
      if (hit.nbf - tolerance > now) throw new UnauthorizedError("token not yet valid");
      return hit.identity;
    }
    const m = /^Bearer\s+([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*)$/i.exec(authorization.trim());
    if (!m) throw new UnauthorizedError("authorization must be 'Bearer <jwt>'");
    return this.verify(authorization, m[1]!, tolerance);
  }

  /** Whether this header value was verified before (answering it costs no signature check). */
  isCached(authorization: string | null): boolean {
    return authorization !== null && this.cache.has(authorization);
  }

  /** Verifies `token` with jose and keeps the identity under the header value it came in. */
  private async verify(authorization: string, token: string, tolerance: number): Promise<Principal> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key as Uint8Array, {
        algorithms: this.cfg.algorithms,
        issuer: this.cfg.issuer || undefined,
        audience: this.cfg.audience || undefined,
        clockTolerance: tolerance,
        requiredClaims: ["sub", "exp"],
      }));
    } catch (err) {
      throw new UnauthorizedError(describeJoseError(err));
    }
    const roles = payload[this.cfg.roles_claim];
    const identity: Principal = {
      ...principalOf({
        sub: String(payload.sub),
        admin: payload[this.cfg.admin_claim] === true,
        roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === "string") : [],
      }),
      authorization,
    };
    if (this.cache.size >= Authenticator.MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(authorization, { identity, exp: payload.exp ?? Infinity, nbf: payload.nbf ?? 0 });
    return identity;
  }

  static requireAdmin(identity: Identity): void {
    if (!identity.admin) throw new ForbiddenError("this endpoint needs a token with the admin claim");
  }
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return "token expired";
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === "nbf") return "token not yet valid";
    return `token claim ${err.claim} is invalid`;
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "token signature is invalid";
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return "token is malformed";
  return "token rejected";
}

