import { HTTP_RESPONSE } from "../../resilience/outcome.ts";
import { FlatHeaders } from "./flat-headers.ts";

/**
 * Response fields as a flat `[name, value, …]` array with lower-case names, in
 * arrival order: FlatHeaders (get, has, toHeaders) plus the few `Headers`
 * writers a proxy uses. Building a `Headers` (and a `Response` around it) per
 * proxied request costs more than the proxy's own work; this does not validate
 * again what the parser already checked, and it serialises straight back to
 * the wire.
 */
export class WireFields extends FlatHeaders {
  constructor(override readonly fields: string[] = []) {
    super(fields);
  }

  /** Replaces every line of `name` (lower-case) with one. */
  set(name: string, value: string): void {
    this.delete(name);
    this.fields.push(name, value);
  }

  append(name: string, value: string): void {
    this.fields.push(name, value);
  }

  delete(name: string): void {
    const f = this.fields;
    let w = 0;
    for (let i = 0; i < f.length; i += 2) {
      if (f[i] === name) continue;
      if (w !== i) {
        f[w] = f[i]!;
        f[w + 1] = f[i + 1]!;
      }
      w += 2;
    }
    f.length = w;
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

  constructor(
    readonly status: number,
    readonly statusText: string,
    fields: string[],
    /** The whole body (or null for none): framing is the writer's job. */
    readonly bytes: Uint8Array | null,
    /** The body still arriving; null when `bytes` holds it all. */
    readonly stream: ReadableStream<Uint8Array> | null = null,
    /** Declared length of a streamed body, -1 when unknown (chunked or until close). */
    readonly contentLength: number = bytes === null ? -1 : bytes.length,
  ) {
    this.headers = new WireFields(fields);
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
