import { createHash } from "node:crypto";

/**
 * Cookie value naming an instance without revealing its address: a short hash
 * of the instance id, identical on every gateway replica so any of them honours it.
 */
export function stickyIdFor(instanceId: string): string {
  return createHash("sha256").update(instanceId).digest("base64url").slice(0, 12);
}

/** Set-Cookie value pinning a client to the instance with `stickyId`. */
export function stickyCookie(cookieName: string, stickyId: string): string {
  return `${cookieName}=${stickyId}; Path=/; HttpOnly; SameSite=Lax`;
}

/** The sticky id from a Cookie header, or undefined. */
export function readStickyCookie(cookieHeader: string | null | undefined, cookieName: string): string | undefined {
  if (!cookieHeader) return undefined;
  const prefix = `${cookieName}=`;
  for (const part of cookieHeader.split(";")) {
    const p = part.trim();
    if (p.startsWith(prefix)) return p.slice(prefix.length) || undefined;
  }
  return undefined;
}
