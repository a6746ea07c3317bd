import { STATUS_CODES } from "node:http";
/** Marks an HTTP response that is not a fetch Response (a registry symbol: code that treats both alike knows it by name). */
const HTTP_RESPONSE: unique symbol = Symbol.for("bpm.httpResponse");
import { latin1Slice, latin1Write } from "./latin1.ts";
import { FlatHeaders } from "./flat-headers.ts";
import { http1MinorAt, type RawLines, writeShort } from "./raw-lines.ts";

/**
 * Response fields for a proxy: FlatHeaders (the upstream's lines as received,
 * relayed as bytes) plus what the proxy changed — names it removed and lines it
 * added, with the `Headers` writers a proxy uses (set, append, delete; lower-case
 * names). Nothing is validated again: the parser checked the lines, and the
 * values added are ours.
 */
export class WireFields extends FlatHeaders {
  /** Names (lower-case) whose received lines no longer count. */
  private hidden: string[] | null = null;

  protected override shown(i: number): boolean {
    const hidden = this.hidden;
    if (hidden === null) return true;
    for (const name of hidden) if (this.raw!.nameIs(i, name)) return false;
    return true;
  }

  /** As `set`, but leaves a single received line that already says `value` where it is (a relayed head stays one block). */
  setUnlessSame(name: string, value: string): void {
    if (!this.says(name, value)) this.set(name, value);
  }

  /** Exactly one line is named `name` (lower-case), a received one still shown, and its value is `value`. */
  says(name: string, value: string): boolean {
    const raw = this.raw;
    if (raw === null || this.hidden !== null || this.addedHas(name)) return false;
    let found = -1;
    for (let i = 0; i < raw.count; i++) {
      if (!raw.nameIs(i, name)) continue;
      if (found >= 0) return false;
      found = i;
    }
    return found >= 0 && raw.valueIs(found, value);
  }

  private addedHas(name: string): boolean {
    const a = this.added;
    for (let i = 0; i < a.length; i += 2) if (a[i] === name) return true;
    return false;
  }

  /**
   * With every received line still shown, and all of them indexed back to back: where
   * the received block (first line and field lines) ends, to be copied whole. -1 otherwise.
   */
  receivedBlockEnd(): number {
    return this.raw === null || this.hidden !== null ? -1 : this.raw.contiguousEnd();
  }

  /** Writes the added lines (`name: value\r\n`) but those named `skip` at `offset`; returns the offset after them. */
  writeAdded(target: Buffer, offset: number, skip?: string): number {
    let o = offset;
    const a = this.added;
    for (let i = 0; i < a.length; i += 2) {
      if (a[i] === skip) continue;
      o = writeShort(target, o, a[i]!);
      target[o++] = 58; // ": "
      target[o++] = 32;
      o = writeShort(target, o, a[i + 1]!);
      target[o++] = 13;
      target[o++] = 10;
    }
    return o;
  }

  /** Bytes `writeAdded` writes. */
  addedLength(skip?: string): number {
    let n = 0;
    const a = this.added;
    for (let i = 0; i < a.length; i += 2) if (a[i] !== skip) n += a[i]!.length + a[i + 1]!.length + 4;
    return n;
  }

  /** Replaces every line of `name` (lower-case) with one. */
  set(name: string, value: string): void {
    this.delete(name);
    this.added.push(name, value);
  }

  append(name: string, value: string): void {
    this.added.push(name, value);
  }

  delete(name: string): void {
    const raw = this.raw;
    if (raw !== null) {
      for (let i = 0; i < raw.count; i++) {
        if (raw.nameIs(i, name)) {
          (this.hidden ??= []).push(name);
          break;
        }
      }
    }
    if (!this.addedHas(name)) return;
    const a = this.added;
    let w = 0;
    for (let i = 0; i < a.length; i += 2) {
      if (a[i] === name) continue;
      if (w !== i) {
        a[w] = a[i]!;
        a[w + 1] = a[i + 1]!;
      }
      w += 2;
    }
    a.length = w;
  }

  /** The same lines, independent of later changes to this one (the received bytes are shared: nobody writes them). */
  copy(): WireFields {
    const c = new WireFields(this.raw, this.added.slice());
    if (this.hidden !== null) c.hidden = this.hidden.slice();
    return c;
  }

  /** Bytes `writeLines` writes when leaving out `skip` (lower-case). */
  byteLength(skip: string): number {
    let n = 0;
    const raw = this.raw;
    if (raw !== null) for (let i = 0; i < raw.count; i++) if (!raw.nameIs(i, skip) && this.shown(i)) n += raw.lineLength(i);
    return n + this.addedLength(skip);
  }

  /** Writes the lines (`name: value\r\n`) but those named `skip` at `offset`; returns the offset after them. */
  writeLines(target: Buffer, offset: number, skip: string): number {
    const raw = this.raw;
    let o = offset;
    if (raw !== null) for (let i = 0; i < raw.count; i++) if (!raw.nameIs(i, skip) && this.shown(i)) o = raw.copyLine(i, target, o);
    return this.writeAdded(target, o, skip);
  }
}

/**
 * An upstream's response as the pooled client read it, for a caller that writes
 * it to another HTTP/1.1 connection (the gateway's raw front): status, fields
 * without hop-by-hop ones (`content-length` stays: it is end-to-end; the writer
 * frames the body itself), and the body — whole bytes when it arrived with the
 * head, else a stream.
 */
export class WireResponse {
  readonly headers: WireFields;
  /** Retry and breaker predicates treat it as the HTTP response it is. */
  readonly [HTTP_RESPONSE] = true;
  /** The received head, when the response came off the wire through the scanner (its lines are `headers`' too). */
  readonly rawHead: RawLines | null;
  private reason: string | undefined;

  constructor(
    readonly status: number,
    /** The received head (its status line is relayed from here), or the reason phrase with `fields` as a flat array. */
    head: RawLines | string,
    fields: WireFields | string[] | null,
    /** The whole body (or null for none): framing is the writer's job. */
    readonly bytes: Uint8Array | null,
    /** The body still arriving; null when `bytes` holds it all. */
    readonly stream: ReadableStream<Uint8Array> | null = null,
    /** Declared length of a streamed body, -1 when unknown (chunked or until close). */
    readonly contentLength: number = bytes === null ? -1 : bytes.length,
  ) {
    if (typeof head === "string") {
      this.reason = head;
      this.rawHead = null;
    } else {
      this.rawHead = head;
    }
    this.headers = fields instanceof WireFields ? fields : new WireFields(this.rawHead, fields ?? []);
  }

  get statusText(): string {
    if (this.reason === undefined) {
      const h = this.rawHead!;
      this.reason = h.firstLineEnd > h.start + 13 ? latin1Slice(h.data, h.start + 13, h.firstLineEnd) : "";
    }
    return this.reason;
  }

  /** The received status line's code and reason, to relay as they are; null when it had no reason phrase (we add one) or there is none. */
  private relayedStatus(): RawLines | null {
    const h = this.rawHead;
    return h !== null && h.firstLineEnd > h.start + 13 ? h : null;
  }

  /** The received status line can go out as it is: `HTTP/1.1`, with a reason phrase. */
  get relaysStatusLine(): boolean {
    const h = this.relayedStatus();
    return h !== null && http1MinorAt(h.data, h.start) === 1;
  }

  /** Bytes of `HTTP/1.1 <status> <reason>\r\n` as `writeStatusLine` writes it. */
  statusLineLength(): number {
    const h = this.relayedStatus();
    if (h !== null) return 9 + h.firstLineEnd - (h.start + 9) + 2;
    return this.statusLine().length;
  }

  /** Writes the status line as HTTP/1.1 at `offset` (a received one's code and reason as they are); returns the offset after it. */
  writeStatusLine(target: Buffer, offset: number): number {
    const h = this.relayedStatus();
    if (h === null) return offset + latin1Write(target, this.statusLine(), offset);
    let o = offset + latin1Write(target, "HTTP/1.1 ", offset);
    o += h.data.copy(target, o, h.start + 9, h.firstLineEnd);
    return o + latin1Write(target, "\r\n", o);
  }

  private statusLine(): string {
    return `HTTP/1.1 ${this.status} ${this.statusText || STATUS_CODES[this.status] || ""}\r\n`;
  }

  /** Releases a body nobody will read (the connection it streams from is closed). */
  cancel(): void {
    if (this.stream !== null) void this.stream.cancel().catch(() => {});
  }

  /** The same response as a fetch `Response` (for code off the hot path). */
  toResponse(): Response {
    const body = this.stream ?? (this.bytes !== null && this.bytes.length > 0 ? this.bytes : null);
    return new Response(body, { status: this.status, statusText: this.statusText, headers: this.headers.toHeaders() });
  }
}
