import { STATUS_CODES } from "node:http";
import { HOP_BY_HOP } from "./hop-by-hop.ts";
import { latin1Write } from "./latin1.ts";
import { SCRATCH } from "./scratch.ts";
import type { ServerRequest } from "./server-request.ts";
import type { WireResponse } from "./wire-response.ts";

/** A Content-Length body up to this size is read whole and written with the head in one write; larger ones stream. */
const BUFFER_MAX = 64 * 1024;

/** What writing a response needs of a server connection (server.ts's `Conn`), so this module does not import the server. */
export interface ResponseSink {
  readonly server: { readonly date: string };
  closeAfter: boolean;
  readonly closed: boolean;
  reader: { cancel(reason?: unknown): Promise<void> } | null;
  write(data: Uint8Array): void;
  writeScratch(length: number): void;
  drained(): Promise<void> | undefined;
  destroy(): void;
}
const LAST_CHUNK = Buffer.from("0\r\n\r\n");
const CRLF = Buffer.from("\r\n");

/**
 * Writes `res` on the connection with HTTP/1.1 framing: Content-Length passed
 * through (small bodies in one write with the head), else chunked (or until
 * close for an HTTP/1.0 client). Hop-by-hop fields never go out. Streamed
 * bodies are read only as fast as the socket drains.
 */
export async function writeResponse(conn: ResponseSink, req: ServerRequest | null, res: Response): Promise<void> {
  const status = res.status;
  const fields = res.headers.toJSON() as Record<string, string | string[]>;
  let head = `HTTP/1.1 ${status} ${res.statusText || STATUS_CODES[status] || ""}\r\n`;
  let length = -1;
  for (const name in fields) {
    if (HOP_BY_HOP.has(name)) continue;
    if (name === "content-length") {
      const v = fields[name] as string;
      length = /^\d{1,15}$/.test(v) ? Number(v) : -1;
      continue;
    }
    const value = fields[name]!;
    if (typeof value === "string") head += `${name}: ${value}\r\n`;
    else for (const v of value) head += `${name}: ${v}\r\n`;
  }
  if (fields["date"] === undefined) head += `date: ${conn.server.date}\r\n`;
  const http10 = req !== null && req.minor === 0;
  const noBody = (req !== null && req.method === "HEAD") || status === 204 || status === 304 || status < 200;

  if (noBody) {
    if (length >= 0 && req !== null && req.method === "HEAD") head += `content-length: ${length}\r\n`;
    writeHead(conn, head, http10);
    if (res.body !== null) void res.body.cancel().catch(() => {});
    return;
  }
  if (length >= 0 && length <= BUFFER_MAX) {
    // the common small JSON: usually already in memory (the pooled client hands it over whole)
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (conn.closed) return;
    writeHead(conn, `${head}content-length: ${bytes.length}\r\n`, http10, bytes);
    return;
  }
  const body = res.body;
  if (body === null) {
    writeHead(conn, `${head}content-length: 0\r\n`, http10);
    return;
  }
  await streamBody(conn, head, http10, body, length);
}

/**
 * Writes a WireResponse (the pooled client's own form): the status line and the
 * received field lines are copied as bytes, with our framing after them; a body
 * that came whole goes with the head in one write. No Headers, no Response, no
 * string per field on the way.
 */
export function writeWire(conn: ResponseSink, req: ServerRequest | null, res: WireResponse): Promise<void> | undefined {
  const status = res.status;
  const fields = res.headers;
  const http10 = req !== null && req.minor === 0;
  const noBody = (req !== null && req.method === "HEAD") || status === 204 || status === 304 || status < 200;
  // our own lines, after the upstream's: hop-by-hop fields were dropped by the parser; framing is ours
  const dateLine = fields.has("date") ? "" : `date: ${conn.server.date}\r\n`;
  const bytes = res.bytes;
  if (!noBody && bytes !== null && res.relaysStatusLine && writeBlock(conn, res, bytes, dateLine + endOfHead(conn, http10))) return undefined;
  let tail = dateLine;
  if (noBody) {
    if (req !== null && req.method === "HEAD") {
      const declared = fields.get("content-length");
      if (declared !== null) tail += `content-length: ${declared}\r\n`;
    }
    res.cancel();
  } else if (bytes !== null) {
    tail += `content-length: ${bytes.length}\r\n`;
  } else {
    // a streamed body (SSE, large downloads): the head as text, then the stream
    let head = `HTTP/1.1 ${status} ${res.statusText || STATUS_CODES[status] || ""}\r\n`;
    const f = fields.fields;
    for (let i = 0; i < f.length; i += 2) if (f[i] !== "content-length") head += `${f[i]!}: ${f[i + 1]!}\r\n`;
    return streamBody(conn, head + tail, http10, res.stream!, res.contentLength);
  }
  tail += endOfHead(conn, http10);
  const bodyLength = noBody || bytes === null ? 0 : bytes.length;
  const headLength = res.statusLineLength() + fields.byteLength("content-length") + tail.length;
  const buf = headLength + bodyLength <= SCRATCH.length ? SCRATCH : Buffer.allocUnsafe(headLength);
  let o = res.writeStatusLine(buf, 0);
  o = fields.writeLines(buf, o, "content-length");
  o += latin1Write(buf, tail, o);
  if (buf === SCRATCH) {
    if (bodyLength > 0) SCRATCH.set(bytes!, o);
    conn.writeScratch(o + bodyLength);
  } else {
    conn.write(buf.subarray(0, o));
    if (bodyLength > 0) conn.write(bytes!);
  }
  return undefined;
}

/**
 * The usual relayed answer: every received line still counts and they lie back to back,
 * so the status line and field lines go out as one copied block — its own Content-Length
 * frames the whole body we hold — with our lines and `tail` after it, in one write.
 * False when the response is not like that (the caller writes it line by line).
 */
function writeBlock(conn: ResponseSink, res: WireResponse, bytes: Uint8Array, tail: string): boolean {
  const fields = res.headers;
  const raw = res.rawHead!;
  const blockEnd = fields.receivedBlockEnd();
  // the received Content-Length must be the body we hold (a 205's dropped content is not)
  if (blockEnd < 0 || !fields.says("content-length", String(bytes.length))) return false;
  const length = blockEnd - raw.start + fields.addedLength() + tail.length + bytes.length;
  if (length > SCRATCH.length) return false;
  let o = raw.data.copy(SCRATCH, 0, raw.start, blockEnd);
  o = fields.writeAdded(SCRATCH, o);
  o += latin1Write(SCRATCH, tail, o);
  if (bytes.length > 0) SCRATCH.set(bytes, o);
  conn.writeScratch(o + bytes.length);
  return true;
}

/** Writes the head, then the body as it arrives: Content-Length when known, else chunked (or until close for HTTP/1.0). */
async function streamBody(conn: ResponseSink, head: string, http10: boolean, body: ReadableStream<Uint8Array>, length: number): Promise<void> {
  const chunked = length < 0 && !http10;
  if (length >= 0) head += `content-length: ${length}\r\n`;
  else if (chunked) head += "transfer-encoding: chunked\r\n";
  else conn.closeAfter = true; // HTTP/1.0 without a length: the close ends the body
  writeHead(conn, head, http10);
  const reader = body.getReader();
  conn.reader = reader;
  let sent = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (conn.closed) return;
      if (done) break;
      if (value === undefined || value.length === 0) continue;
      sent += value.length;
      if (chunked) {
        conn.write(Buffer.from(`${value.length.toString(16)}\r\n`, "latin1"));
        conn.write(value);
        conn.write(CRLF);
      } else {
        conn.write(value);
      }
      const wait = conn.drained();
      if (wait !== undefined) await wait;
      if (conn.closed) return;
    }
  } finally {
    conn.reader = null;
    reader.releaseLock();
  }
  if (chunked) conn.write(LAST_CHUNK);
  // a body that ended short of its Content-Length leaves the client waiting: only a close tells it
  else if (length >= 0 && sent !== length) conn.destroy();
}

/** The fixed "connection" field (an HTTP/1.0 client closes unless told otherwise) and the blank line. */
function endOfHead(conn: ResponseSink, http10: boolean): string {
  return conn.closeAfter ? "connection: close\r\n\r\n" : http10 ? "connection: keep-alive\r\n\r\n" : "\r\n";
}

/** The head (and a small body) in one write; the fixed "connection" field goes last. */
function writeHead(conn: ResponseSink, head: string, http10: boolean, body?: Uint8Array): void {
  head += endOfHead(conn, http10);
  const n = head.length;
  if (n + (body?.length ?? 0) <= SCRATCH.length) {
    latin1Write(SCRATCH, head, 0);
    if (body !== undefined && body.length > 0) SCRATCH.set(body, n);
    conn.writeScratch(n + (body?.length ?? 0));
    return;
  }
  conn.write(Buffer.from(head, "latin1"));
  if (body !== undefined && body.length > 0) conn.write(body);
}
