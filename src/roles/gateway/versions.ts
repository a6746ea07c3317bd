import type { ServiceBalancers } from "../../balancing/service-balancers.ts";
import { readStickyCookie } from "../../balancing/sticky.ts";
import { ValidationError } from "../../platform/errors.ts";
import type { HeaderReader } from "../../transport/inbound.ts";
import type { GatewayRoute } from "./routes.ts";

/** A client's pin to one version: this request header, else this cookie. */
export const VERSION_HEADER = "x-bpm-version";
export const VERSION_COOKIE = "bpm_version";

const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/** The version a client pinned (header first, then cookie); a malformed one is a 400, never a silent guess. */
export function pinnedVersion(headers: HeaderReader): string | undefined {
  const header = headers.get(VERSION_HEADER);
  let value: string | undefined;
  if (header !== null) value = header.trim();
  else {
    // the common request pins nothing: one substring search, no cookie parsing
    const cookie = headers.get("cookie");
    if (cookie !== null && cookie.includes(VERSION_COOKIE)) value = readStickyCookie(cookie, VERSION_COOKIE);
  }
  if (value === undefined || value === "") return undefined;
  if (!VERSION.test(value)) throw new ValidationError(`${header !== null ? `the ${VERSION_HEADER} header` : `the ${VERSION_COOKIE} cookie`} must be a version (letters, digits and . _ + -, at most 64)`);
  return value;
}

/**
 * The versions a request on `route` may go to, the preferred first:
 * - pinned by the client → that version only (503 when it has no usable instance);
 * - the route splits by version → a client whose sticky instance runs a version that still
 *   takes traffic stays on it; else the split's next version; the other live versions after it
 *   (used only when the first has no usable instance);
 * - otherwise undefined: any instance.
 */
export function versionsFor(route: GatewayRoute, headers: HeaderReader, stickyId: string | undefined, balancers: ServiceBalancers): readonly string[] | undefined {
  const pinned = pinnedVersion(headers);
  if (pinned !== undefined) return [pinned];
  const split = route.split;
  if (split === undefined) return undefined;
  if (stickyId !== undefined) {
    const own = balancers.get(route.service).instanceForStickyId(stickyId)?.version;
    if (own !== undefined && split.takes(own)) return split.order(own);
  }
  return split.order(split.next());
}
