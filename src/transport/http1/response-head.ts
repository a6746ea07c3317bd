/** A malformed or oversized response from the upstream (the connection is never reused). */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}

export interface ResponseHead {
  status: number;
  statusText: string;
  /** Flat `[name, value, …]`, names lower-cased, in arrival order (hop-by-hop ones dropped when asked). */
  fields: string[];
  /** Declared Content-Length, or -1 when absent (or overridden by Transfer-Encoding). */
  contentLength: number;
  /** Transfer-Encoding ends in chunked. */
  chunked: boolean;
  /** Transfer-Encoding without a final chunked: the body runs until the server closes. */
  untilClose: boolean;
  /** The server lets this connection carry another request. */
  keepAlive: boolean;
}

const CONTENT_LENGTH = /^\d{1,15}$/;
/** RFC 9110 §5.6.2 token: what a field name may be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A NUL, or a CR or LF that is not part of a CRLF: never passed on (response splitting). */
const BAD_BYTES = /\0|\r(?!\n)|(?<!\r)\n/;

/** Hop-by-hop fields (RFC 9110 §7.6.1) by length, so most names are rejected without lower-casing. */
function isHopByHop(lower: string): boolean {
  switch (lower.length) {
    case 2: return lower === "te";
    case 7: return lower === "trailer" || lower === "upgrade";
    case 10: return lower === "connection" || lower === "keep-alive";
    case 16: return lower === "proxy-connection";
    case 17: return lower === "transfer-encoding";
    case 18: return lower === "proxy-authenticate";
    case 19: return lower === "proxy-authorization";
    default: return false;
  }
}

/** Names whose length matches a field the parser acts on (framing, connection) or drops. */
function mayMatter(length: number): boolean {
  return length === 14 || length === 10 || length === 17 || length === 2 || length === 7 || length === 16 || length === 18 || length === 19;
}

/**
 * Parses `text` = status line + fields, without the blank line (latin1-decoded,
 * so every byte survives). Framing follows RFC 9112 §6.3.
 */
export function parseResponseHead(text: string, stripHopByHop: boolean): ResponseHead {
  let eol = text.indexOf("\r\n");
  if (eol < 0) eol = text.length;
  // "HTTP/1.x SSS[ reason]"
  if (eol < 12 || !text.startsWith("HTTP/1.") || text.charCodeAt(8) !== 32) throw new ProtocolError(`bad status line: ${JSON.stringify(text.slice(0, Math.min(eol, 64)))}`);
  const minor = text.charCodeAt(7) - 48;
  const status = (text.charCodeAt(9) - 48) * 100 + (text.charCodeAt(10) - 48) * 10 + (text.charCodeAt(11) - 48);
  if (minor < 0 || minor > 9 || !(status >= 100 && status <= 599) || (eol > 12 && text.charCodeAt(12) !== 32)) {
    throw new ProtocolError(`bad status line: ${JSON.stringify(text.slice(0, Math.min(eol, 64)))}`);
  }
  const statusText = eol > 13 ? text.slice(13, eol) : "";
  if (BAD_BYTES.test(text)) throw new ProtocolError("NUL or bare CR/LF in the response head");

  const fields: string[] = [];
  let contentLength = -1;
  let transferEncoding: string | undefined;
  let connection: string | undefined;
  let lastName = "";
  let pos = eol + 2;
  while (pos < text.length) {
    let end = text.indexOf("\r\n", pos);
    if (end < 0) end = text.length;
    const first = text.charCodeAt(pos);
    if (first === 32 || first === 9) {
      // obs-fold (RFC 9112 §5.2): a user agent replaces it with a space.
      if (lastName === "") throw new ProtocolError("folded line before any field");
      if (fields.length > 0 && fields[fields.length - 2] === lastName) fields[fields.length - 1] = `${fields[fields.length - 1]} ${text.slice(pos, end).trim()}`;
      pos = end + 2;
      continue;
    }
    const colon = text.indexOf(":", pos);
    if (colon <= pos || colon > end) throw new ProtocolError(`bad field line: ${JSON.stringify(text.slice(pos, Math.min(end, pos + 64)))}`);
    const raw = text.slice(pos, colon);
    if (!TOKEN.test(raw)) throw new ProtocolError(`bad field name: ${JSON.stringify(raw.slice(0, 64))}`);
    const name = raw.toLowerCase();
    const value = text.slice(colon + 1, end).trim();
    pos = end + 2;
    lastName = name;
    if (mayMatter(name.length)) {
      const lower = name;
      if (lower === "content-length") {
        if (!CONTENT_LENGTH.test(value)) throw new ProtocolError(`bad content-length: ${JSON.stringify(value)}`);
        const n = Number(value);
        if (contentLength !== -1 && contentLength !== n) throw new ProtocolError("conflicting content-length fields");
        contentLength = n;
      } else if (lower === "transfer-encoding") {
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      } else if (lower === "connection") {
        connection = connection === undefined ? value : `${connection}, ${value}`;
      }
      if (stripHopByHop && isHopByHop(lower)) continue;
    }
    fields.push(name, value);
  }

  let chunked = false;
  let untilClose = false;
  if (transferEncoding !== undefined) {
    // Transfer-Encoding overrides Content-Length, and such a message must not be reused (RFC 9112 §6.3 item 3).
    const te = transferEncoding.toLowerCase();
    chunked = /(?:^|,)\s*chunked\s*$/.test(te);
    untilClose = !chunked;
    if (contentLength !== -1) {
      contentLength = -1;
      connection = connection === undefined ? "close" : `${connection}, close`;
    }
  }
  let keepAlive: boolean;
  if (connection === undefined) {
    keepAlive = minor >= 1;
  } else {
    const tokens = connection.toLowerCase();
    keepAlive = minor >= 1 ? !/(?:^|,)\s*close\s*(?:,|$)/.test(tokens) : /(?:^|,)\s*keep-alive\s*(?:,|$)/.test(tokens);
    if (stripHopByHop) dropConnectionOptions(fields, tokens);
  }
  return { status, statusText, fields, contentLength, chunked, untilClose, keepAlive };
}

/** Fields named in Connection are hop-by-hop too (RFC 9110 §7.6.1). */
function dropConnectionOptions(fields: string[], tokens: string): void {
  const named = tokens.split(",").map((t) => t.trim()).filter((t) => t !== "" && t !== "close" && t !== "keep-alive");
  if (named.length === 0) return;
  let w = 0;
  for (let i = 0; i < fields.length; i += 2) {
    if (named.includes(fields[i]!)) continue;
    fields[w++] = fields[i]!;
    fields[w++] = fields[i + 1]!;
  }
  fields.length = w;
}

/** Flat fields → a Headers (which checks every value once more). */
export function headersOf(fields: readonly string[]): Headers {
  const h = new Headers();
  for (let i = 0; i < fields.length; i += 2) h.append(fields[i]!, fields[i + 1]!);
  return h;
}

/** Trailer section lines (`name: value\r\n…`, no blank line) → Headers; framing fields are not allowed there. */
export function parseTrailers(text: string): Headers {
  const trailers = new Headers();
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf("\r\n", pos);
    if (end < 0) end = text.length;
    const colon = text.indexOf(":", pos);
    if (colon <= pos || colon > end) throw new ProtocolError("bad trailer line");
    const name = text.slice(pos, colon);
    const lower = name.toLowerCase();
    if (lower !== "content-length" && lower !== "transfer-encoding" && lower !== "host") trailers.append(name, text.slice(colon + 1, end).trim());
    pos = end + 2;
  }
  return trailers;
}
