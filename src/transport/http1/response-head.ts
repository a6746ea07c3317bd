import { connectionOptions, HOP_BY_HOP, HOP_BY_HOP_NAMES } from "./hop-by-hop.ts";
import { bytesAre, http1MinorAt, indexFieldLines, LINE, RawLines } from "./raw-lines.ts";

/** A malformed or oversized response from the upstream (the connection is never reused). */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}

export interface ResponseHead {
  status: number;
  statusText: string;
  /** Flat `[name, value, …]`, names lower-cased, in arrival order (hop-by-hop ones dropped when asked). */
  fields: string[];
  /** From `scanResponseHead`: the same fields indexed in the received bytes (then `fields` is empty and `statusText` unread). */
  raw?: RawLines;
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

/** Lengths of the names the parser acts on (framing, connection) or drops (hop-by-hop). */
const MATTERING_LENGTHS = new Uint8Array(32);
for (const name of [...HOP_BY_HOP_NAMES, "content-length"]) MATTERING_LENGTHS[name.length] = 1;

/** Names whose length matches a field the parser acts on (framing, connection) or drops. */
function mayMatter(length: number): boolean {
  return length < 32 && MATTERING_LENGTHS[length] === 1;
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
      if (stripHopByHop && HOP_BY_HOP.has(lower)) continue;
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

/**
 * The common response head read straight from its bytes, `data[start, end)`
 * (status line and fields, without the blank line): fields are indexed, not
 * copied into strings, and hop-by-hop ones left out. Anything out of the
 * ordinary — a malformed or folded line, Transfer-Encoding, Connection, repeated
 * Content-Length — returns null, and the caller parses the text with
 * `parseResponseHead`, which knows every case (and words the error). Where it
 * answers, it answers as `parseResponseHead` would (a test compares them).
 */
export function scanResponseHead(data: Buffer, start: number, end: number): ResponseHead | null {
  // "HTTP/1.x SSS[ reason]"
  if (end - start < 12) return null;
  const minor = http1MinorAt(data, start);
  const d0 = data[start + 9]! - 48;
  const d1 = data[start + 10]! - 48;
  const d2 = data[start + 11]! - 48;
  if (minor < 0 || data[start + 8] !== 32 || d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return null;
  const status = d0 * 100 + d1 * 10 + d2;
  let pos = start + 12;
  if (pos < end && data[pos] !== 13) {
    if (data[pos] !== 32) return null;
    // the reason phrase: anything but NUL, CR, LF
    while (pos < end && data[pos] !== 13) {
      const b = data[pos]!;
      if (b === 0 || b === 10) return null;
      pos++;
    }
  }
  const firstLineEnd = pos;
  const all = indexFieldLines(data, pos, end, [], true);
  if (all === null) return null;
  const received = new RawLines(data, start, firstLineEnd, all);
  // the lines the parser acts on or drops (names of those lengths only): framing read, hop-by-hop ones left out
  let index = all;
  let contentLength = -1;
  for (let at = 0; at < all.length; at += LINE.size) {
    const lineStart = all[at]!;
    const nameLength = all[at + LINE.colon]! - lineStart;
    let drop = false;
    if (mayMatter(nameLength)) {
      if (nameLength === 14 && bytesAre(data, lineStart, "content-length")) {
        const valueStart = all[at + LINE.valueStart]!;
        const valueEnd = all[at + LINE.valueEnd]!;
        if (contentLength !== -1 || valueEnd - valueStart > 15 || valueEnd === valueStart) return null;
        let n = 0;
        for (let k = valueStart; k < valueEnd; k++) {
          const digit = data[k]! - 48;
          if (digit < 0 || digit > 9) return null;
          n = n * 10 + digit;
        }
        contentLength = n;
      } else if (nameLength === 17 ? bytesAre(data, lineStart, "transfer-encoding") : nameLength === 10 && bytesAre(data, lineStart, "connection")) {
        return null;
      } else {
        // Connection and Transfer-Encoding were left to the parser above
        drop = HOP_BY_HOP.hasLine(received, at / LINE.size);
      }
    }
    // rare: a hop-by-hop line makes a copy of the index without it
    if (drop) {
      if (index === all) index = all.slice(0, at);
    } else if (index !== all) {
      for (let k = 0; k < LINE.size; k++) index.push(all[at + k]!);
    }
  }
  return { status, statusText: "", fields: [], raw: index === all ? received : new RawLines(data, start, firstLineEnd, index), contentLength, chunked: false, untilClose: false, keepAlive: minor >= 1 };
}

/** Fields named in Connection are hop-by-hop too (RFC 9110 §7.6.1). */
function dropConnectionOptions(fields: string[], tokens: string): void {
  const named = connectionOptions(tokens);
  if (named === undefined) return;
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
