/**
 * This library's errors. Each carries the HTTP status and machine code an answer to
 * the client should have (`httpStatus`, `code`), so whoever serves the request can map
 * it without this library knowing any application's error type.
 */
export class Http1Error extends Error {
  constructor(
    message: string,
    readonly httpStatus: number,
    readonly code: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
  }
}

/** The upstream could not be reached, closed early or answered malformed: 502. */
export class UpstreamError extends Http1Error {
  constructor(message: string, cause?: unknown) {
    super(message, 502, "UPSTREAM_ERROR", cause);
  }
}

/** No response head within the request's time limit: 504. */
export class UpstreamTimeoutError extends Http1Error {
  constructor(message: string) {
    super(message, 504, "UPSTREAM_TIMEOUT");
  }
}

/** A request the server refuses before any handler sees it; the status says why (400, 408, 413, 431, 501, 505). */
export class ProtocolRejection extends Http1Error {
  constructor(httpStatus: number, code: string, message: string) {
    super(message, httpStatus, code);
  }
}

/** A request body over the server's limit: 413. */
export function bodyTooLarge(limitBytes: number): ProtocolRejection {
  return new ProtocolRejection(413, "PAYLOAD_TOO_LARGE", `request body exceeds ${limitBytes} bytes`);
}

/** An error that names its HTTP status and code (this library's, or an application's of the same shape). */
export function isHttpError(err: unknown): err is { httpStatus: number; code: string; message: string } {
  const e = err as { httpStatus?: unknown; code?: unknown } | null;
  return typeof e?.httpStatus === "number" && typeof e.code === "string";
}

/**
 * The caller's request body stream failed (the client went away mid-upload, sent a
 * malformed chunked body, went past the body limit, stopped sending): not the
 * upstream's fault. A cause that names its status keeps it and its code (413, 408, 400).
 * `clientCaused` tells the breaker and the balancer not to count it against the instance.
 */
export class RequestBodyError extends Http1Error {
  readonly clientCaused = true;
  constructor(message: string, cause?: unknown) {
    const c = isHttpError(cause) ? cause : undefined;
    super(c?.message ?? message, c?.httpStatus ?? 400, c?.code ?? "REQUEST_BODY_FAILED", cause);
  }
}
