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

const enum Chunk {
  SizeStart, Size, ExtName, ExtNameRest, ExtValueStart, ExtToken, ExtQuoted, ExtQuotedPair, ExtQuotedDone, SizeLf,
  Data, DataCr, DataLf,
  TrailerStart, TrailerName, TrailerValue, TrailerLf, EndLf,
}
const CR = 13;
const LF = 10;
/** A chunk-size line (size and extensions, without its CRLF) longer than this is refused, counted on every read. */
export const MAX_CHUNK_LINE = 4096;
/** Significant hex digits of a chunk size (leading zeros are not counted): 13 keeps it below 2^52, a safe integer. */
const MAX_SIZE_DIGITS = 13;

/** Hex digit values; -1 for any other byte. */
const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[65 + i] = HEX[97 + i] = 10 + i;

/** RFC 9110 §5.6.2 tchar. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;

/** qdtext (RFC 9110 §5.6.4): HTAB, SP, VCHAR except `"` and `\\`, obs-text. */
function isQdtext(b: number): boolean {
  return b === 9 || b === 32 || b === 0x21 || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b <= 0x7e) || b >= 0x80;
}

/** A field value byte (RFC 9110 §5.5): HTAB, SP, VCHAR, obs-text; no other control byte. */
function isFieldByte(b: number): boolean {
  return b === 9 || (b >= 0x20 && b !== 0x7f);
}

/**
 * Chunked transfer coding (RFC 9112 §7.1), read strictly, byte by byte where
 * framing depends on it:
 *
 *     chunk      = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *     chunk-size = 1*HEXDIG
 *     chunk-ext  = *( ";" token [ "=" ( token / quoted-string ) ] )
 *     last-chunk = 1*"0" [ chunk-ext ] CRLF
 *     trailer-section = *( field-line CRLF ) CRLF
 *
 * Every line ends in CRLF (a bare CR or bare LF is an error), no whitespace
 * anywhere in a size line (as llhttp: the RFC's BWS around `;` and `=` is where
 * parsers disagree), leading zeros are free but at most 13 significant digits,
 * a size line is at most MAX_CHUNK_LINE bytes and the trailer section at most
 * `maxTrailerBytes`, both counted as bytes arrive. Extensions are checked, then
 * ignored; trailers are parsed and kept. Anything else throws ProtocolError.
 */
export class ChunkedDecoder implements BodyDecoder {
  done = false;
  trailers: Headers | undefined;
  private state = Chunk.SizeStart;
  private remaining = 0;
  private digits = 0;
  private lineBytes = 0;
  /** The trailer section as text (rare: most bodies end with "0\r\n\r\n"). */
  private trailerText = "";
  private trailerBytes = 0;

  constructor(private readonly maxTrailerBytes: number) {}

  decode(buf: Buffer, offset: number, sink: BodySink): number {
    let pos = offset;
    const len = buf.length;
    while (pos < len && !this.done) {
      if (this.state === Chunk.Data) {
        const n = Math.min(this.remaining, len - pos);
        sink.bodyChunk(pos === 0 && n === len ? buf : buf.subarray(pos, pos + n));
        pos += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = Chunk.DataCr;
        continue;
      }
      if (this.state >= Chunk.TrailerStart) {
        pos = this.trailer(buf, pos);
        continue;
      }
      const b = buf[pos++]!;
      if (this.state < Chunk.SizeLf && ++this.lineBytes > MAX_CHUNK_LINE) throw new ProtocolError("chunk size line too long");
      switch (this.state) {
        case Chunk.SizeStart:
        case Chunk.Size: {
          const v = HEX[b]!;
          if (v >= 0) {
            if (this.remaining > 0 || v > 0) {
              if (++this.digits > MAX_SIZE_DIGITS) throw new ProtocolError("chunk size too large");
            }
            this.remaining = this.remaining * 16 + v;
            this.state = Chunk.Size;
          } else if (this.state === Chunk.Size && b === 59) this.state = Chunk.ExtName;
          else if (this.state === Chunk.Size && b === CR) this.state = Chunk.SizeLf;
          else throw new ProtocolError(`invalid byte 0x${b.toString(16)} in chunk size`);
          break;
        }
        case Chunk.ExtName: {
          // at least one tchar, then `=`, `;` or CR
          if (TCHAR[b] === 1) this.state = Chunk.ExtNameRest;
          else throw new ProtocolError("malformed chunk extension name");
          break;
        }
        case Chunk.ExtNameRest: {
          if (TCHAR[b] === 1) break;
          if (b === 61) this.state = Chunk.ExtValueStart;
          else this.afterExtension(b);
          break;
        }
        case Chunk.ExtValueStart: {
          if (b === 34) this.state = Chunk.ExtQuoted;
          else if (TCHAR[b] === 1) this.state = Chunk.ExtToken;
          else throw new ProtocolError("malformed chunk extension value");
          break;
        }
        case Chunk.ExtToken: {
          if (TCHAR[b] !== 1) this.afterExtension(b);
          break;
        }
        case Chunk.ExtQuoted: {
          if (b === 34) this.state = Chunk.ExtQuotedDone;
          else if (b === 92) this.state = Chunk.ExtQuotedPair;
          else if (!isQdtext(b)) throw new ProtocolError("malformed quoted chunk extension value");
          break;
        }
        case Chunk.ExtQuotedPair: {
          if (b === 9 || (b >= 0x20 && b !== 0x7f)) this.state = Chunk.ExtQuoted;
          else throw new ProtocolError("malformed quoted-pair in chunk extension");
          break;
        }
        case Chunk.ExtQuotedDone: {
          this.afterExtension(b);
          break;
        }
        case Chunk.SizeLf: {
          if (b !== LF) throw new ProtocolError("chunk size line not ended by CRLF");
          this.lineBytes = 0;
          this.digits = 0;
          this.state = this.remaining === 0 ? Chunk.TrailerStart : Chunk.Data;
          break;
        }
        case Chunk.DataCr: {
          if (b !== CR) throw new ProtocolError("chunk data not followed by CRLF");
          this.state = Chunk.DataLf;
          break;
        }
        case Chunk.DataLf: {
          if (b !== LF) throw new ProtocolError("chunk data not followed by CRLF");
          this.state = Chunk.SizeStart;
          break;
        }
      }
    }
    return pos;
  }

  /** After an extension's name or value: another extension, or the line's CR. */
  private afterExtension(b: number): void {
    if (b === 59) this.state = Chunk.ExtName;
    else if (b === CR) this.state = Chunk.SizeLf;
    else throw new ProtocolError(`invalid byte 0x${b.toString(16)} in chunk extension`);
  }

  /** Trailer field lines up to the empty line, each checked as a field line; returns where it stopped. */
  private trailer(buf: Buffer, pos: number): number {
    const len = buf.length;
    const from = pos;
    while (pos < len && !this.done) {
      const b = buf[pos++]!;
      switch (this.state) {
        case Chunk.TrailerStart:
          if (b === CR) this.state = Chunk.EndLf;
          else if (TCHAR[b] === 1) this.state = Chunk.TrailerName;
          else throw new ProtocolError("malformed trailer field");
          break;
        case Chunk.TrailerName:
          if (b === 58) this.state = Chunk.TrailerValue;
          else if (TCHAR[b] !== 1) throw new ProtocolError("malformed trailer field name");
          break;
        case Chunk.TrailerValue:
          if (b === CR) this.state = Chunk.TrailerLf;
          else if (!isFieldByte(b)) throw new ProtocolError("invalid byte in trailer field value");
          break;
        case Chunk.TrailerLf:
          if (b !== LF) throw new ProtocolError("trailer line not ended by CRLF");
          this.state = Chunk.TrailerStart;
          break;
        case Chunk.EndLf:
          if (b !== LF) throw new ProtocolError("trailer section not ended by CRLF");
          this.done = true;
          break;
      }
    }
    this.trailerBytes += pos - from;
    if (this.trailerBytes > this.maxTrailerBytes) throw new ProtocolError("trailer section too large");
    if (this.done && this.trailerText === "" && pos - from === 2) return pos; // no trailers: the common "0\r\n\r\n"
    this.trailerText += latin1Slice(buf, from, pos);
    if (this.done && this.trailerText.length > 2) this.trailers = parseTrailers(this.trailerText.slice(0, -4));
    return pos;
  }
}
