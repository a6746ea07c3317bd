import { BpmError } from "../../platform/errors.ts";
import type { GatewayRoute } from "./routes.ts";

/**
 * The gateway's method policy, applied before anything is forwarded: a method no
 * role implements never reaches an instance (so it can never count against one).
 *
 * - a method outside RFC 9110 §9 and PATCH (RFC 5789) → 501 Not Implemented;
 * - OPTIONS → answered here: 204 with `Allow` (the route's methods, plus OPTIONS);
 * - a standard method the route does not serve (TRACE, or DELETE on /api/forms) → 405 with `Allow`.
 */
export const KNOWN_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);

export class MethodNotAllowedError extends BpmError {
  constructor(method: string) {
    super(`method ${method} is not allowed here`, { code: "METHOD_NOT_ALLOWED", httpStatus: 405 });
  }
}

export class MethodNotImplementedError extends BpmError {
  constructor(method: string) {
    super(`method ${JSON.stringify(method.slice(0, 32))} is not implemented`, { code: "NOT_IMPLEMENTED", httpStatus: 501 });
  }
}

export type MethodVerdict = { kind: "forward" } | { kind: "options"; allow: string } | { kind: "refuse"; error: BpmError; allow?: string };

const FORWARD: MethodVerdict = { kind: "forward" };

/**
 * What the gateway does with `method` on `route`. `pathMethods` names the methods the request's
 * own path serves (from the services' API tables), asked only when the answer is the gateway's:
 * the forwarding decision stays one lookup, and `Allow` lists what that path takes.
 */
export function methodVerdict(route: GatewayRoute, method: string, pathMethods?: () => readonly string[] | undefined): MethodVerdict {
  if (route.methods.includes(method)) return FORWARD;
  if (!KNOWN_METHODS.has(method)) return { kind: "refuse", error: new MethodNotImplementedError(method) };
  const own = pathMethods?.();
  const allow = own !== undefined ? [...own, "OPTIONS"].join(", ") : allowOf(route);
  if (method === "OPTIONS") return { kind: "options", allow };
  return { kind: "refuse", error: new MethodNotAllowedError(method), allow };
}

/** The `Allow` value for a route. */
export function allowOf(route: GatewayRoute): string {
  return [...route.methods, "OPTIONS"].join(", ");
}
