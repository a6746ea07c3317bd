import { BpmError, ForbiddenError } from "./errors.ts";
import type { Principal } from "./principal.ts";

/** Verifies an Authorization value (or its absence): the caller, or a thrown 401. */
export type Authenticate = (authorization: string | null) => Principal | Promise<Principal>;

/** Paths served without a credential (docs/security.md). */
export const OPEN_PATHS: ReadonlySet<string> = new Set(["/health", "/metrics", "/openapi.json", "/docs"]);

/** Where a request carries its caller once admitted (on the request itself: no shared table). */
const CALLER = Symbol("bpm.caller");
type WithCaller = Request & { [CALLER]?: Principal };

/** The caller the app authenticated for this request. */
export function principalFrom(request: Request): Principal {
  const p = (request as WithCaller)[CALLER];
  if (p === undefined) throw new BpmError("request was not authenticated", { code: "INTERNAL", httpStatus: 500 });
  return p;
}

/** The path of an absolute URL without building a URL (this runs on every request). */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  let end = url.length;
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 63 || c === 35) {
      end = i;
      break;
    }
  }
  return url.slice(start, end);
}

/**
 * Decides from the request's head alone (the body is not read): an open path passes; anything
 * else needs a credential `authenticate` accepts, and /admin/* the admin claim. Returns the
 * error to answer with, or undefined when the request may go on (its caller then known to
 * `principalFrom`). A token seen before is decided without a promise.
 */
export function admitRequest(request: Request, pathname: string, authenticate: Authenticate): unknown | Promise<unknown> {
  if (OPEN_PATHS.has(pathname)) return undefined;
  const admitted = (p: Principal): unknown => {
    if (pathname.startsWith("/admin/") && !p.admin) return new ForbiddenError("this endpoint needs a token with the admin claim");
    (request as WithCaller)[CALLER] = p;
    return undefined;
  };
  try {
    const p = authenticate(request.headers.get("authorization"));
    return p instanceof Promise ? p.then(admitted, (err: unknown) => err) : admitted(p);
  } catch (err) {
    return err;
  }
}
