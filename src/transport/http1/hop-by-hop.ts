import { NameSet } from "./raw-lines.ts";

/**
 * The one list of fields that belong to a single connection (RFC 9110 §7.6.1, plus the
 * non-standard Keep-Alive and Proxy-Connection): never relayed in either direction,
 * whichever side of the proxy reads or writes them. Fields a message's Connection field
 * names are hop-by-hop too (`connectionOptions`).
 */
export const HOP_BY_HOP_NAMES = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authenticate", "proxy-authorization"] as const;

export const HOP_BY_HOP = new NameSet(HOP_BY_HOP_NAMES);

/**
 * The field names a Connection value lists (lower-case), leaving out `close` and
 * `keep-alive` (connection options, not field names); undefined when it lists none.
 */
export function connectionOptions(connection: string | null | undefined): string[] | undefined {
  if (connection === null || connection === undefined || connection === "") return undefined;
  const named = connection
    .toLowerCase()
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "" && t !== "close" && t !== "keep-alive");
  return named.length > 0 ? named : undefined;
}
