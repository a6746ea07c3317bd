/**
 * One JSON line per request, written as bytes into a buffer and flushed in
 * batches, so logging stays off the per-request hot path (a synchronous write
 * per request costs more than the proxy hop, and so did a string per line
 * joined at flush time).
 */
export class AccessLog {
  private buf: Buffer;
  private used = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly sink: (chunk: Uint8Array) => void = (c) => process.stdout.write(c), flushEveryMs = 200, private readonly maxBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(maxBytes);
    this.timer = setInterval(() => this.flush(), flushEveryMs);
    this.timer.unref?.();
  }

  write(entry: Record<string, unknown>): void {
    this.text(`${JSON.stringify(entry)}\n`);
  }

  /**
   * The gateway's per-request line, the same JSON `write` would make of
   * {time, method, path, status, ms, upstream, correlation_id, trace_id, user}
   * (absent fields left out), built without an object or a generic stringify.
   */
  request(method: string, path: string, status: number, ms: number, upstream: string | undefined, correlationId: string, traceId: string | undefined, user: string | undefined): void {
    // room for the worst case (every char escaped as \uXXXX), else the line goes out as text
    const worst = 160 + 6 * (method.length + path.length + (upstream?.length ?? 0) + correlationId.length + (traceId?.length ?? 0) + (user?.length ?? 0));
    if (worst > this.maxBytes) {
      this.text(`${JSON.stringify({ time: isoNow(), method, path, status, ms, upstream, correlation_id: correlationId, trace_id: traceId, user })}\n`);
      return;
    }
    if (this.used + worst > this.maxBytes) this.flush();
    const b = this.buf;
    let o = ascii(b, this.used, '{"time":"');
    o = ascii(b, o, isoNow());
    o = ascii(b, o, '","method":');
    o = quoted(b, o, method);
    o = ascii(b, o, ',"path":');
    o = quoted(b, o, path);
    o = ascii(b, o, ',"status":');
    o = ascii(b, o, String(status));
    o = ascii(b, o, ',"ms":');
    o = ascii(b, o, String(ms));
    if (upstream !== undefined) o = quoted(b, ascii(b, o, ',"upstream":'), upstream);
    o = quoted(b, ascii(b, o, ',"correlation_id":'), correlationId);
    if (traceId !== undefined) o = quoted(b, ascii(b, o, ',"trace_id":'), traceId);
    if (user !== undefined) o = quoted(b, ascii(b, o, ',"user":'), user);
    b[o++] = 125; // }
    b[o++] = 10;
    this.used = o;
  }

  /** A whole line (or lines) of text, UTF-8. */
  private text(line: string): void {
    const bytes = Buffer.byteLength(line);
    if (this.used + bytes > this.maxBytes) this.flush();
    if (bytes > this.maxBytes) {
      this.sink(Buffer.from(line));
      return;
    }
    this.used += this.buf.write(line, this.used, "utf8");
  }

  flush(): void {
    if (this.used === 0) return;
    // the filled buffer goes to the sink as it is (it may write later): the next lines go to a new one
    const chunk = this.buf.subarray(0, this.used);
    this.buf = Buffer.allocUnsafe(this.maxBytes);
    this.used = 0;
    this.sink(chunk);
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/** Writes `text`, known to be printable ASCII; returns the offset after it. */
function ascii(b: Buffer, o: number, text: string): number {
  for (let i = 0; i < text.length; i++) b[o++] = text.charCodeAt(i);
  return o;
}

/**
 * `text` as a JSON string: printable ASCII without `"` and `\\` is copied between
 * quotes as it is; anything else is written as JSON.stringify makes it (UTF-8).
 */
function quoted(b: Buffer, start: number, text: string): number {
  let o = start;
  b[o++] = 34;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 34 || c === 92) return start + b.write(JSON.stringify(text), start, "utf8");
    b[o++] = c;
  }
  b[o++] = 34;
  return o;
}

let lastMs = 0;
let lastIso = "";
/** new Date().toISOString(), computed at most once per millisecond (access logs call it per request). */
export function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}
