import { type RawLines, TCHAR } from "./raw-lines.ts";
import type { Http1Headers, Http1RequestInit } from "./types.ts";

/** Framing of the request body on the wire. */
export const NO_BODY = -2;
export const CHUNKED = -1;
/** A streamed body: Content-Length if the caller's headers declare one, else chunked. */
export const STREAM = -3;


export interface HeadInfo {
  /** The serialized head, latin1 (one char per byte), ending in the blank line — or, with `relay`, before it. */
  text: string;
  /** Received lines that go after `text`, then the blank line. */
  relay: { raw: RawLines; lines: readonly number[] } | null;
  /** Bytes of the whole head. */
  length: number;
  /** Body bytes to send (Content-Length), CHUNKED or NO_BODY. */
  framing: number;
  /** The caller asked for `Connection: close`, so the connection is not reused. */
  close: boolean;
}

/**
 * Serializes `METHOD path HTTP/1.1` and the fields. Content-Length and
 * Transfer-Encoding from the caller are not copied: `length` (a byte count,
 * NO_BODY or STREAM) decides the framing.
 */
export function serializeHead(method: string, path: string, hostHeader: string, headers: Http1Headers | undefined, length: number, relay?: Http1RequestInit["relay"]): HeadInfo {
  if (!isToken(method)) throw new TypeError(`invalid method: ${JSON.stringify(method)}`);
  if (path === "" || path.includes(" ")) throw new TypeError(`invalid request target: ${JSON.stringify(path)}`);
  const fields = new FieldWriter();
  if (headers !== undefined) {
    if (headers instanceof Headers) {
      // toJSON is ~5× cheaper than iterating a Headers in Bun; set-cookie comes back as an array.
      const all = headers.toJSON() as Record<string, string | string[]>;
      for (const name in all) {
        const value = all[name]!;
        if (typeof value === "string") fields.add(name, value);
        else for (const v of value) fields.add(name, v);
      }
    } else {
      if (headers.length % 2 !== 0) throw new TypeError("flat header array needs name, value pairs");
      for (let i = 0; i < headers.length; i += 2) fields.add(headers[i]!, headers[i + 1]!);
    }
  }
  const host = fields.host ?? hostHeader;
  // a CR, LF or NUL in the target or a value (names were checked as tokens) would be an injection attempt
  if (!clean(path) || !clean(host)) throw new TypeError("request line or header contains CR, LF or NUL");
  let text = `${method} ${path} HTTP/1.1\r\n${fields.text}host: ${host}\r\n`;
  const framing = length === STREAM ? (fields.declaredLength >= 0 ? fields.declaredLength : CHUNKED) : length;
  if (framing >= 0) text += `content-length: ${framing}\r\n`;
  else if (framing === CHUNKED) text += "transfer-encoding: chunked\r\n";
  if (relay !== undefined && relay.lines.length > 0) {
    let bytes = text.length + 2;
    for (const i of relay.lines) bytes += relay.raw.lineLength(i);
    return { text, relay, length: bytes, framing, close: fields.close };
  }
  return { text: `${text}\r\n`, relay: null, length: text.length + 2, framing, close: fields.close };
}

/** Accumulates field lines, keeping the ones the client decides itself (host, framing) aside. */
class FieldWriter {
  text = "";
  host: string | undefined;
  declaredLength = -1;
  close = false;

  add(name: string, value: string): void {
    if (!isKnownToken(name) || !clean(value)) throw new TypeError(`header ${JSON.stringify(name)}: the name must be a token, and no CR, LF or NUL may appear`);
    // Only names of these lengths and first letters need a second look (host, content-length, transfer-encoding, connection).
    const n = name.length;
    const first = name.charCodeAt(0) | 0x20;
    if ((n === 4 && first === 104) || ((n === 14 || n === 10) && first === 99) || (n === 17 && first === 116)) {
      const lower = name.toLowerCase();
      if (lower === "host") {
        this.host = value;
        return;
      }
      if (lower === "content-length") {
        this.declaredLength = /^\d{1,15}$/.test(value) ? Number(value) : -1;
        return;
      }
      if (lower === "transfer-encoding") return;
      if (lower === "connection" && /(?:^|,)\s*close\s*(?:,|$)/i.test(value)) this.close = true;
    }
    this.text += `${name}: ${value}\r\n`;
  }
}

/** No CR, LF or NUL: a char loop, cheaper per field than a regex call or a scan of the whole head. */
function clean(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0) return false;
  }
  return true;
}

/**
 * Names that passed `isToken`, so the same names (a proxy sends the same dozen on every
 * request) are checked once. Bounded: past the cap, names are checked every time.
 */
const TOKENS = new Set<string>();
const MAX_TOKENS = 1024;

function isKnownToken(name: string): boolean {
  if (TOKENS.has(name)) return true;
  if (!isToken(name)) return false;
  if (TOKENS.size < MAX_TOKENS) TOKENS.add(name);
  return true;
}

function isToken(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c > 255 || TCHAR[c] !== 1) return false;
  }
  return true;
}
