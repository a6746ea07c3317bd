import { latin1Slice } from "./latin1.ts";

/**
 * Field lines of a message head as they arrived, indexed in place: no string is
 * made for a field until someone asks for its value, and relaying them is a byte
 * copy. The pooled client scans a response head into this (see `scanResponseHead`);
 * the raw front writes the lines back out as they are.
 */

/** RFC 9110 §5.6.2 tchar: what a field name may be made of. */
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;

/** Numbers kept per line in `RawLines.index`. */
export const LINE = { start: 0, colon: 1, valueStart: 2, valueEnd: 3, end: 4, size: 5 } as const;

/**
 * Indexes the field lines of `data` from `pos` (the CR ending the first line) to
 * `end` (the CR of the blank line) into `index` (see `RawLines`), checking each:
 * a token name right before its colon, and no NUL, bare CR or bare LF anywhere.
 * `trimmable` are the value bytes a caller's text parser would also trim (besides
 * SP and HT) — a line with one is left to that parser. Null for anything else.
 */
export function indexFieldLines(data: Buffer, pos: number, end: number, index: number[], trimmable: boolean): number[] | null {
  while (pos < end) {
    if (data[pos + 1] !== 10) return null; // a bare CR
    pos += 2;
    const lineStart = pos;
    while (pos < end && TCHAR[data[pos]!] === 1) pos++;
    if (pos === lineStart || pos >= end || data[pos] !== 58) return null; // empty name, obs-fold, a bad byte before the colon
    const colon = pos++;
    while (pos < end && (data[pos] === 32 || data[pos] === 9)) pos++;
    const valueStart = pos;
    let valueEnd = pos;
    while (pos < end) {
      const b = data[pos]!;
      if (b === 13) break;
      // a control byte other than HTAB (RFC 9110 §5.5), or what a text parser would trim
      if ((b < 32 && b !== 9) || b === 127 || (trimmable && b === 160)) return null;
      pos++;
      if (b !== 32 && b !== 9) valueEnd = pos;
    }
    index.push(lineStart, colon, valueStart, valueEnd, pos);
  }
  return index;
}

/** The x of `HTTP/1.x` at `at` in `data` (a status or request line's version), or -1 when it is not there. */
export function http1MinorAt(data: Buffer, at: number): number {
  if (data[at] !== 72 || data[at + 1] !== 84 || data[at + 2] !== 84 || data[at + 3] !== 80 || data[at + 4] !== 47 || data[at + 5] !== 49 || data[at + 6] !== 46) return -1;
  const minor = data[at + 7]! - 48;
  return minor >= 0 && minor <= 9 ? minor : -1;
}

/** `data` at `start` holds `lower` (a lower-case name), in any case. */
export function bytesAre(data: Buffer, start: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) if (lowerByte(data[start + k]!) !== lower.charCodeAt(k)) return false;
  return true;
}

/** Lower-case field names grouped by length: a name, or a received line's name, is tested without lower-casing it. */
export class NameSet {
  private readonly byLength = new Map<number, string[]>();

  constructor(names: Iterable<string>) {
    for (const name of names) this.byLength.set(name.length, [...(this.byLength.get(name.length) ?? []), name]);
  }

  has(lower: string): boolean {
    return this.byLength.get(lower.length)?.includes(lower) ?? false;
  }

  hasLine(raw: RawLines, i: number): boolean {
    const names = this.byLength.get(raw.nameLength(i));
    if (names === undefined) return false;
    for (const name of names) if (raw.nameIs(i, name)) return true;
    return false;
  }
}

/**
 * Short runs are copied by a loop (a field line is tens of bytes; a native
 * `copy` call costs more than that); long ones natively. Returns the offset after.
 */
export function copyBytes(source: Buffer, from: number, to: number, target: Buffer, offset: number): number {
  if (to - from > 128) return offset + source.copy(target, offset, from, to);
  for (let k = from; k < to; k++) target[offset++] = source[k]!;
  return offset;
}

/** Writes `text` (chars < 256) at `offset` by a loop, for the same reason; returns the offset after. */
export function writeShort(target: Buffer, offset: number, text: string): number {
  for (let k = 0; k < text.length; k++) target[offset++] = text.charCodeAt(k);
  return offset;
}

function lowerByte(b: number): number {
  return b >= 65 && b <= 90 ? b + 32 : b;
}

/**
 * A head in `data`: its first line (status or request line) is [start, firstLineEnd),
 * then field lines, five numbers each in `index`: where the line starts, its colon,
 * where its value starts and ends (optional whitespace trimmed), and its CR.
 * Only lines that count are indexed (a parser leaves hop-by-hop ones out).
 * Never written to once made: a cached response shares it.
 */
export class RawLines {
  constructor(
    readonly data: Buffer,
    readonly start: number,
    readonly firstLineEnd: number,
    readonly index: readonly number[],
  ) {}

  get count(): number {
    return this.index.length / LINE.size;
  }

  /** Bytes in line `i`'s name. */
  nameLength(i: number): number {
    const at = i * LINE.size;
    return this.index[at + LINE.colon]! - this.index[at]!;
  }

  /** Line `i`'s name equals `lower` (a lower-case name), ignoring case. */
  nameIs(i: number, lower: string): boolean {
    const x = this.index;
    const at = i * LINE.size;
    const start = x[at]!;
    const n = x[at + LINE.colon]! - start;
    return n === lower.length && bytesAre(this.data, start, lower);
  }

  name(i: number): string {
    const at = i * LINE.size;
    return latin1Slice(this.data, this.index[at]!, this.index[at + LINE.colon]!).toLowerCase();
  }

  value(i: number): string {
    const at = i * LINE.size;
    return latin1Slice(this.data, this.index[at + LINE.valueStart]!, this.index[at + LINE.valueEnd]!);
  }

  /** Line `i`'s value is exactly `text` (chars < 256). */
  valueIs(i: number, text: string): boolean {
    const at = i * LINE.size;
    const start = this.index[at + LINE.valueStart]!;
    if (this.index[at + LINE.valueEnd]! - start !== text.length) return false;
    const d = this.data;
    for (let k = 0; k < text.length; k++) if (d[start + k] !== text.charCodeAt(k)) return false;
    return true;
  }

  /**
   * Where the head's last field line ends (after its CRLF) when every line from the first
   * line to there is indexed, back to back (no line the parser left out between them):
   * then [start, that) can be copied as one block. -1 when some line was left out.
   */
  contiguousEnd(): number {
    const x = this.index;
    let expect = this.firstLineEnd + 2;
    for (let at = 0; at < x.length; at += LINE.size) {
      if (x[at] !== expect) return -1;
      expect = x[at + LINE.end]! + 2;
    }
    return expect;
  }

  /** Bytes of line `i` with its CRLF. */
  lineLength(i: number): number {
    const at = i * LINE.size;
    return this.index[at + LINE.end]! + 2 - this.index[at]!;
  }

  /** Copies line `i` (with its CRLF) to `target` at `offset`; returns the offset after it. */
  copyLine(i: number, target: Buffer, offset: number): number {
    const at = i * LINE.size;
    return copyBytes(this.data, this.index[at]!, this.index[at + LINE.end]! + 2, target, offset);
  }
}
