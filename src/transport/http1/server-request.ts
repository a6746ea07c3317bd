import { ProtocolRejection } from "./errors.ts";
import { FlatHeaders } from "./flat-headers.ts";
import { latin1Slice } from "./latin1.ts";
import { http1MinorAt, indexFieldLines, RawLines, TCHAR } from "./raw-lines.ts";

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Control bytes a head may not hold anywhere (CR and LF are checked as line ends; HTAB only inside field values, see below). */
const CTL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
/** Paths Bun.serve's URL parsing would rewrite (dot segments, backslashes, bytes URL encodes): normalized the same way. */
const NEEDS_URL = /\/\.|%2e|\\|[^\x21-\x7e]/i;

export { ProtocolRejection };

export interface ParsedHead {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 */
  minor: number;
  /** The fields as a flat `[name, value, …]`, or indexed in place in `raw` (then `fields` is empty). */
  fields: string[];
  raw?: RawLines;
}

/** Methods a request usually has, so reading one makes no string. */
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

function methodOf(data: Buffer, end: number): string {
  for (const m of METHODS) {
    if (m.length !== end) continue;
    let k = 0;
    while (k < end && data[k] === m.charCodeAt(k)) k++;
    if (k === end) return m;
  }
  return latin1Slice(data, 0, end);
}

/**
 * The common request head read straight from its bytes, `data[0, end)` (request
 * line and fields, without the blank line): fields indexed in place. A target
 * with bytes URL parsing would rewrite, another HTTP version, or anything
 * malformed returns null, and the caller reads the text with `parseRequestHead`,
 * which refuses it in words (or knows the case). Where it answers, it answers as
 * `parseRequestHead` would (a test compares them).
 */
export function scanRequestHead(data: Buffer, end: number): ParsedHead | null {
  let pos = 0;
  while (pos < end && TCHAR[data[pos]!] === 1) pos++;
  if (pos === 0 || pos >= end || data[pos] !== 32) return null;
  const method = methodOf(data, pos);
  const targetStart = ++pos;
  while (pos < end && data[pos]! > 0x20 && data[pos]! < 0x7f) pos++;
  if (pos === targetStart || pos >= end || data[pos] !== 32) return null;
  const target = latin1Slice(data, targetStart, pos);
  pos++;
  // "HTTP/1.1" or "HTTP/1.0", then the line ends
  const minor = pos + 8 > end ? -1 : http1MinorAt(data, pos);
  if (minor !== 0 && minor !== 1) return null;
  pos += 8;
  if (pos < end && data[pos] !== 13) return null;
  const index = indexFieldLines(data, pos, end, [], false);
  if (index === null) return null;
  return { method, target, minor, fields: [], raw: new RawLines(data, 0, pos, index) };
}

/**
 * Parses a request head (request line and field lines, without the blank line)
 * given as latin1 text. Strict where leniency lets requests be smuggled: bare CR
 * or LF, NUL, obsolete line folding, whitespace before the colon → 400.
 */
export function parseRequestHead(text: string): ParsedHead {
  for (let i = text.indexOf("\r"); i !== -1; i = text.indexOf("\r", i + 1)) {
    if (text.charCodeAt(i + 1) !== 10) throw bad("bare CR in request head");
  }
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
    if (text.charCodeAt(i - 1) !== 13) throw bad("bare LF in request head");
  }
  if (CTL.test(text)) throw bad("control byte in request head");
  let eol = text.indexOf("\r\n");
  const line = eol < 0 ? text : text.slice(0, eol);
  const sp1 = line.indexOf(" ");
  const sp2 = sp1 < 0 ? -1 : line.indexOf(" ", sp1 + 1);
  if (sp1 <= 0 || sp2 <= sp1 + 1 || line.indexOf(" ", sp2 + 1) !== -1) throw bad("malformed request line");
  const method = line.slice(0, sp1);
  const target = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!TOKEN.test(method)) throw bad("malformed method");
  let minor: number;
  if (version === "HTTP/1.1") minor = 1;
  else if (version === "HTTP/1.0") minor = 0;
  else if (/^HTTP\/\d\.\d$/.test(version)) throw new ProtocolRejection(505, "HTTP_VERSION_NOT_SUPPORTED", `${version} is not supported`);
  else throw bad("malformed HTTP version");
  const fields: string[] = [];
  while (eol >= 0) {
    const start = eol + 2;
    eol = text.indexOf("\r\n", start);
    const field = eol < 0 ? text.slice(start) : text.slice(start, eol);
    const c0 = field.charCodeAt(0);
    if (c0 === 32 || c0 === 9) throw bad("obsolete line folding");
    const colon = field.indexOf(":");
    if (colon <= 0) throw bad("malformed header field");
    const name = field.slice(0, colon);
    if (!TOKEN.test(name)) throw bad("malformed header field name");
    let a = colon + 1;
    let b = field.length;
    while (a < b && (field.charCodeAt(a) === 32 || field.charCodeAt(a) === 9)) a++;
    while (b > a && (field.charCodeAt(b - 1) === 32 || field.charCodeAt(b - 1) === 9)) b--;
    fields.push(name.toLowerCase(), field.slice(a, b));
  }
  return { method, target, minor, fields };
}

/**
 * A Host value (RFC 9110 §7.2, RFC 3986 §3.2.2): uri-host [":" port], where uri-host is an
 * IP-literal in brackets or a reg-name / IPv4 address of unreserved, sub-delims and
 * percent-encodings (it may be empty). No "/", "?", "#", "@", whitespace or control byte.
 */
const HOST = /^(?:\[[0-9A-Za-z:._~!$&'()*+,;=-]+\]|(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?$/;

export function validHost(value: string): boolean {
  return HOST.test(value);
}

function bad(message: string): ProtocolRejection {
  return new ProtocolRejection(400, "BAD_REQUEST", message);
}

/**
 * The bytes a request target may hold (RFC 3986 via RFC 9112 §3.2): unreserved,
 * sub-delims, ":", "@", "/", "?" and "%" (followed by two hex digits). No
 * whitespace, control byte, obs-text, fragment ("#") or other delimiter.
 */
const TARGET_BYTE = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?%") TARGET_BYTE[c.charCodeAt(0)] = 1;
const HEXDIG = /[0-9A-Fa-f]/;

/** Whether `target` is made of allowed bytes with well-formed percent-encodings. */
export function validTargetChars(target: string): boolean {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c >= 128 || TARGET_BYTE[c] !== 1) return false;
    if (c === 37 && !(HEXDIG.test(target[i + 1] ?? "") && HEXDIG.test(target[i + 2] ?? ""))) return false;
  }
  return true;
}

/** RFC 9112 §3.2 forms, decided once per request. */
export type TargetForm = "origin" | "absolute" | "asterisk";

/**
 * Path and query of a request target, per RFC 9112 §3.2: origin-form (`/path?q`);
 * absolute-form (`http://host/path`, accepted as §3.2.2 requires of servers; the
 * path is what counts); asterisk-form (`*`) only for OPTIONS. Authority-form is
 * CONNECT's, and CONNECT is refused before this. Anything else → 400.
 */
export function splitTarget(target: string, method = "GET"): { pathname: string; search: string; form: TargetForm } {
  if (target === "*") {
    if (method !== "OPTIONS") throw bad("asterisk-form target is only for OPTIONS");
    return { pathname: "*", search: "", form: "asterisk" };
  }
  if (!validTargetChars(target)) throw bad("invalid byte in request target");
  if (target.charCodeAt(0) !== 47) {
    if (!/^https?:\/\/[^/?@]+(?:[/?]|$)/i.test(target)) throw bad("malformed request target");
    let u: URL;
    try {
      u = new URL(target);
    } catch {
      throw bad("malformed request target");
    }
    return { pathname: u.pathname, search: u.search, form: "absolute" };
  }
  const q = target.indexOf("?");
  let pathname = q < 0 ? target : target.slice(0, q);
  const search = q < 0 || q === target.length - 1 ? "" : target.slice(q);
  if (NEEDS_URL.test(pathname)) pathname = new URL(pathname, "http://x").pathname;
  return { pathname, search, form: "origin" };
}

/**
 * One request as the raw front hands it to its handler: method, fields, body and
 * signal, its URL parts and the peer's address (the gateway's proxy reads it as an
 * InboundRequest and UrlParts, which it fits by shape).
 */
export class ServerRequest {
  readonly protocol = "http:";
  private stream: ReadableStream<Uint8Array> | null;

  constructor(
    readonly method: string,
    /** The request target as sent (path and query). */
    readonly target: string,
    readonly pathname: string,
    readonly search: string,
    /** The client's Host (checked valid), or the server's own when an HTTP/1.0 request had none: X-Forwarded-Host. */
    readonly host: string,
    /** The server's own `host:port`: the authority of `url`, so nothing routes on the client's Host. */
    readonly authority: string,
    readonly headers: FlatHeaders,
    /** 0 for HTTP/1.0, 1 for HTTP/1.1 */
    readonly minor: number,
    readonly remoteAddress: string,
    readonly signal: AbortSignal,
    /** The whole body when it arrived with the head (the common small JSON); else null. */
    readonly bytes: Uint8Array | null,
    stream: ReadableStream<Uint8Array> | null,
  ) {
    this.stream = stream;
  }

  /** The body is still arriving (a stream fed by the connection), not whole in `bytes`. */
  get streaming(): boolean {
    return this.bytes === null && this.stream !== null;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.stream === null && this.bytes !== null) {
      const bytes = this.bytes;
      this.stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes);
          controller.close();
        },
      });
    }
    return this.stream;
  }

  /** The absolute URL, as `Request.url` would read, with the server's own authority (never the client's Host). */
  get url(): string {
    return `http://${this.authority}${this.pathname}${this.search}`;
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = this.bytes;
    if (bytes !== null) return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    if (this.stream === null) return new ArrayBuffer(0);
    return new Response(this.stream).arrayBuffer();
  }

  /** A fetch `Request` for handlers that need one (the admin app): off the hot path. */
  toRequest(): Request {
    const m = this.method;
    const hasBody = m !== "GET" && m !== "HEAD" && (this.bytes !== null || this.stream !== null);
    return new Request(this.url, {
      method: m,
      headers: this.headers.toHeaders(),
      body: hasBody ? (this.bytes ?? this.stream) : undefined,
      signal: this.signal,
      duplex: "half",
    } as RequestInit);
  }
}
