import { RequestBodyError } from "./errors.ts";
import type { Exchange } from "./exchange.ts";
import { latin1Write } from "./latin1.ts";
import { CHUNKED } from "./request-head.ts";
import { SCRATCH } from "./scratch.ts";

const CRLF = Buffer.from("\r\n");
const LAST_CHUNK = Buffer.from("0\r\n\r\n");

/** What pumping a body needs of the connection (connection.ts), so this module does not import it. */
export interface BodyCarrier {
  carries(ex: Exchange): boolean;
  drained(): Promise<void> | null;
  failWith(ex: Exchange, err: unknown): void;
  write(data: Uint8Array): boolean;
  writeScratch(length: number): boolean;
}

/** Streams a request body, waiting for drain between chunks so a fast client cannot outrun a slow upstream. */
export async function pumpBody(conn: BodyCarrier, ex: Exchange, stream: ReadableStream<Uint8Array>): Promise<void> {
  const framing = ex.head.framing;
  const chunked = framing === CHUNKED;
  if (stream.locked) {
    conn.failWith(ex, new RequestBodyError("request body stream is locked"));
    return;
  }
  const reader = stream.getReader();
  ex.bodyReader = reader;
  const gone = (): boolean => !conn.carries(ex);
  try {
    for (;;) {
      const drained = conn.drained();
      if (drained !== null) await drained;
      if (gone()) break;
      ex.streamTouched = true;
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        // a BpmError cause (the front's body limit: 413, a body timeout: 408) keeps its status
        if (!gone()) conn.failWith(ex, new RequestBodyError(`request body stream failed: ${(err as Error)?.message ?? String(err)}`, err));
        return;
      }
      if (gone()) break;
      if (chunk.done) {
        if (chunked) conn.write(LAST_CHUNK);
        else if (ex.bodyBytesWritten !== framing) {
          conn.failWith(ex, new RequestBodyError(`request body ended after ${ex.bodyBytesWritten} of ${framing} declared bytes`));
          return;
        }
        // If the response already ended, complete() saw an unsent body and closed the connection.
        ex.requestSent = true;
        return;
      }
      const value = chunk.value;
      if (value.length === 0) continue;
      if (chunked) {
        const size = `${value.length.toString(16)}\r\n`;
        if (size.length + value.length + 2 <= SCRATCH.length) {
          // Size line, data and CRLF in one write: one syscall per chunk instead of three.
          latin1Write(SCRATCH, size, 0);
          SCRATCH.set(value, size.length);
          SCRATCH[size.length + value.length] = 13;
          SCRATCH[size.length + value.length + 1] = 10;
          conn.writeScratch(size.length + value.length + 2);
        } else {
          conn.write(Buffer.from(size, "latin1"));
          conn.write(value);
          conn.write(CRLF);
        }
      } else {
        if (ex.bodyBytesWritten + value.length > framing) {
          conn.failWith(ex, new RequestBodyError(`request body exceeds its declared ${framing} bytes`));
          return;
        }
        conn.write(value);
      }
      ex.bodyBytesWritten += value.length;
      // A fixed-length body is sent once the count is reached; the server may answer before we see `done`.
      if (!chunked && ex.bodyBytesWritten === framing) ex.requestSent = true;
    }
    await reader.cancel().catch(() => {});
  } finally {
    if (ex.bodyReader === reader) ex.bodyReader = null;
    reader.releaseLock();
  }
}
