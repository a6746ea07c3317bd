/** Node's one-encoding Buffer methods (present in Bun, undeclared in @types/node): no encoding-name dispatch on the hot path. */
interface Latin1Buffer {
  latin1Slice(start: number, end: number): string;
  latin1Write(text: string, offset: number, length: number): number;
}

/** Bytes [start, end) as a string with one char per byte, so no byte of a head is lost or merged. */
export function latin1Slice(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as Latin1Buffer).latin1Slice(start, end);
}

/** Writes `text` (chars < 256) as one byte per char at `offset`. */
export function latin1Write(buf: Buffer, text: string, offset: number): number {
  return (buf as unknown as Latin1Buffer).latin1Write(text, offset, text.length);
}
