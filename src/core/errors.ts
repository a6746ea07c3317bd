/**
 * Every error bpm raises on purpose: a machine code and an HTTP status. The HTTP edge
 * answers with the status; the gRPC edge maps the status to a gRPC code
 * (src/platform/grpc-status.ts), so both edges answer alike (docs/architecture.md "Errors").
 */
export class BpmError extends Error {
  readonly code: string;
  readonly httpStatus: number;
  /** Milliseconds the caller should wait before trying again (429/503). */
  readonly retryAfterMs: number | undefined;
  readonly details: unknown;

  constructor(
    message: string,
    opts: { code: string; httpStatus: number; retryAfterMs?: number; details?: unknown; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.httpStatus = opts.httpStatus;
    this.retryAfterMs = opts.retryAfterMs;
    this.details = opts.details;
  }
}

export class ValidationError extends BpmError {
  constructor(message: string, details?: unknown) {
    super(message, { code: "VALIDATION_FAILED", httpStatus: 400, details });
  }
}

export class NotFoundError extends BpmError {
  constructor(message: string) {
    super(message, { code: "NOT_FOUND", httpStatus: 404 });
  }
}

export class ConflictError extends BpmError {
  constructor(message: string, code = "CONFLICT") {
    super(message, { code, httpStatus: 409 });
  }
}

export class ForbiddenError extends BpmError {
  constructor(message: string) {
    super(message, { code: "FORBIDDEN", httpStatus: 403 });
  }
}

export class UnauthorizedError extends BpmError {
  constructor(message: string) {
    super(message, { code: "UNAUTHORIZED", httpStatus: 401 });
  }
}

export class FormValidationError extends BpmError {
  constructor(message: string, details: unknown) {
    super(message, { code: "FORM_VALIDATION_FAILED", httpStatus: 422, details });
  }
}

export class PayloadTooLargeError extends BpmError {
  constructor(limitBytes: number) {
    super(`request body exceeds ${limitBytes} bytes`, { code: "PAYLOAD_TOO_LARGE", httpStatus: 413 });
  }
}

export class MethodNotAllowedError extends BpmError {
  constructor(method: string, path: string) {
    super(`${method} is not served on ${path}`, { code: "METHOD_NOT_ALLOWED", httpStatus: 405 });
  }
}

export class UpstreamError extends BpmError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: "UPSTREAM_ERROR", httpStatus: 502, cause });
  }
}

export class UnavailableError extends BpmError {
  constructor(message: string, retryAfterMs?: number, code = "UNAVAILABLE") {
    super(message, { code, httpStatus: 503, retryAfterMs });
  }
}

export class UpstreamTimeoutError extends BpmError {
  constructor(message: string) {
    super(message, { code: "UPSTREAM_TIMEOUT", httpStatus: 504 });
  }
}
