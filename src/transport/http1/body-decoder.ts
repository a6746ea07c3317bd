import { latin1Slice } from "./latin1.ts";
import { ProtocolError, parseTrailers } from "./response-head.ts";

/** Receives decoded body bytes; chunks are views into the socket's buffers (Bun gives a fresh one per read). */
export interface BodySink {
  bodyChunk(chunk: Uint8Array): void;
}

/**
 * Turns wire bytes into body bytes. `decode` consumes from `offset` and returns
 * where it stopped: at the end of `buf`, or at the end of the body (`done`).
 */
export interface BodyDecoder {
  readonly done: boolean;
  decode(buf: Buffer, offset: number, sink: BodySink): number;
  /** Trailer fields, for chunked bodies that carried any. */
  readonly trailers: Headers | undefined;
}

/** Content-Length framing. */
export class LengthDecoder implements BodyDecoder {
  done: boolean;
  readonly trailers = undefined;
  constructor(private remaining: number) {
    this.done = remaining === 0;
  }
  decode(buf: Buffer, offset: number, sink: BodySink): number {
    const n = Math.min(this.remaining, buf.length - offset);
    if (n > 0) {
      sink.bodyChunk(offset === 0 && n === buf.length ? buf : buf.subarray(offset, offset + n));
      this.remaining -= n;
    }
    if (this.remaining === 0) this.done = true;
    return offset + n;
  }
}

/** A body delimited by the server closing the connection (HTTP/1.0 style); `finish` marks the close. */
export class UntilCloseDecoder implements BodyDecoder {
  done = false;
  readonly trailers = undefined;
  decode(buf: Buffer, offset: number, sink: BodySink): number {
    if (offset < buf.length) sink.bodyChunk(offset === 0 ? buf : buf.subarray(offset));
    return buf.length;
  }
  finish(): void {
    this.done = true;
  }
}

const enum Chunk { Size, Data, DataCr, DataLf, Trailers }
const LF = 10;
/** A chunk-size line with extensions, or the trailer section, larger than this is refused. */
const MAX_LINE = 4096;

/** Chunked transfer coding (RFC 9112 §7.1), extensions ignored, trailers parsed. */
export class ChunkedDecoder implements BodyDecoder {
  done = false;
  trailers: Headers | undefined;
  private state = Chunk.Size;
  private remaining = 0;
  /** A size line or trailer section split across reads (rare: lines are tiny). */
  private partial = "";
  private readonly trailerLines: string[] = [];
  private trailerBytes = 0;

  constructor(private readonly maxTrailerBytes: number) {}

  decode(buf: Buffer, offset: number, sink: BodySink): number {
    let pos = offset;
    const len = buf.length;
    while (pos < len && !this.done) {
      switch (this.state) {
        case Chunk.Size: {
          const eol = buf.indexOf(LF, pos);
          if (eol < 0) {
            this.partial += latin1Slice(buf, pos, len);
            if (this.partial.length > MAX_LINE) throw new ProtocolError("chunk size line too long");
            return len;
          }
          const line = this.partial === "" ? latin1Slice(buf, pos, eol) : this.partial + latin1Slice(buf, pos, eol);
          this.partial = "";
          pos = eol + 1;
          this.remaining = parseChunkSize(line);
          this.state = this.remaining === 0 ? Chunk.Trailers : Chunk.Data;
          break;
        }
        case Chunk.Data: {
          const n = Math.min(this.remaining, len - pos);
          sink.bodyChunk(pos === 0 && n === len ? buf : buf.subarray(pos, pos + n));
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = Chunk.DataCr;
          break;
        }
        case Chunk.DataCr: {
          const b = buf[pos++];
          // A bare LF is tolerated, as RFC 9112 §2.2 allows recipients to.
          if (b === LF) this.state = Chunk.Size;
          else if (b === 13) this.state = Chunk.DataLf;
          else throw new ProtocolError("chunk data not followed by CRLF");
          break;
        }
        case Chunk.DataLf: {
          if (buf[pos++] !== LF) throw new ProtocolError("chunk data not followed by CRLF");
          this.state = Chunk.Size;
          break;
        }
        case Chunk.Trailers: {
          pos = this.readTrailers(buf, pos);
          break;
        }
      }
    }
    return pos;
  }

  /** Trailer lines up to the empty line; most bodies have none and end with "0\r\n\r\n". */
  private readTrailers(buf: Buffer, pos: number): number {
    const len = buf.length;
    for (;;) {
      const eol = buf.indexOf(LF, pos);
      if (eol < 0) {
        this.partial += latin1Slice(buf, pos, len);
        if (this.trailerBytes + this.partial.length > this.maxTrailerBytes) throw new ProtocolError("trailer section too large");
        return len;
      }
      let line = this.partial === "" ? latin1Slice(buf, pos, eol) : this.partial + latin1Slice(buf, pos, eol);
      this.partial = "";
      pos = eol + 1;
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (this.trailerLines.length > 0) this.trailers = parseTrailers(this.trailerLines.join("\r\n"));
        this.done = true;
        return pos;
      }
      this.trailerLines.push(line);
      this.trailerBytes += line.length;
      if (this.trailerBytes > this.maxTrailerBytes) throw new ProtocolError("trailer section too large");
    }
  }
}

/** Hex digits up to `;` (extensions) or whitespace; at most 13 digits keeps it a safe integer. */
function parseChunkSize(line: string): number {
  let size = 0;
  let digits = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    let v: number;
    if (c >= 48 && c <= 57) v = c - 48;
    else if (c >= 97 && c <= 102) v = c - 87;
    else if (c >= 65 && c <= 70) v = c - 55;
    else if (c === 59 || c === 32 || c === 9 || c === 13) break;
    else throw new ProtocolError(`bad chunk size: ${JSON.stringify(line.slice(0, 32))}`);
    size = size * 16 + v;
    if (++digits > 13) throw new ProtocolError("chunk size too large");
  }
  if (digits === 0) throw new ProtocolError(`bad chunk size: ${JSON.stringify(line.slice(0, 32))}`);
  return size;
}
