/**
 * What the gateway's proxy path reads of an incoming request. A Bun.serve
 * `Request` fits as is; the raw HTTP/1.1 front (src/transport/http1/server.ts)
 * passes its own lighter object, whose headers are a FlatHeaders.
 */
export interface InboundRequest {
  readonly method: string;
  readonly headers: Headers | HeaderReader;
  /** The body as a stream; null when there is none. */
  readonly body: ReadableStream<Uint8Array> | null;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export interface HeaderReader {
  get(name: string): string | null;
}

/** The parts of the request URL the proxy uses (a `URL` fits). */
export interface UrlParts {
  readonly pathname: string;
  /** `?…` or "" */
  readonly search: string;
  readonly host: string;
  readonly protocol: string;
}
