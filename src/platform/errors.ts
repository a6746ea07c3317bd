import { status as GrpcStatus } from "@grpc/grpc-js";

/**
 * Every error bpm raises on purpose. One class carries the machine code and how it
 * maps to HTTP and gRPC, so both edges answer alike (DESIGN.md "Errors").
 */
export class BpmError extends Error {
  readonly code: string;
  readonly httpStatus: number;
  readonly grpcCode: GrpcStatus;
  /** Milliseconds the caller should wait before trying again (429/503). */
  readonly retryAfterMs: number | undefined;
  readonly details: unknown;

  constructor(
    message: string,
    opts: { code: string; httpStatus: number; grpcCode: GrpcStatus; retryAfterMs?: number; details?: unknown; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.httpStatus = opts.httpStatus;
    this.grpcCode = opts.grpcCode;
    this.retryAfterMs = opts.retryAfterMs;
    this.details = opts.details;
  }
}

export class ValidationError extends BpmError {
  constructor(message: string, details?: unknown) {
    super(message, { code: "VALIDATION_FAILED", httpStatus: 400, grpcCode: GrpcStatus.INVALID_ARGUMENT, details });
  }
}

export class NotFoundError extends BpmError {
  constructor(message: string) {
    super(message, { code: "NOT_FOUND", httpStatus: 404, grpcCode: GrpcStatus.NOT_FOUND });
  }
}

export class ConflictError extends BpmError {
  constructor(message: string, code = "CONFLICT") {
    super(message, { code, httpStatus: 409, grpcCode: GrpcStatus.FAILED_PRECONDITION });
  }
}

export class ForbiddenError extends BpmError {
  constructor(message: string) {
    super(message, { code: "FORBIDDEN", httpStatus: 403, grpcCode: GrpcStatus.PERMISSION_DENIED });
  }
}

export class UnauthorizedError extends BpmError {
  constructor(message: string) {
    super(message, { code: "UNAUTHORIZED", httpStatus: 401, grpcCode: GrpcStatus.UNAUTHENTICATED });
  }
}

export class FormValidationError extends BpmError {
  constructor(message: string, details: unknown) {
    super(message, { code: "FORM_VALIDATION_FAILED", httpStatus: 422, grpcCode: GrpcStatus.INVALID_ARGUMENT, details });
  }
}

export class PayloadTooLargeError extends BpmError {
  constructor(limitBytes: number) {
    super(`request body exceeds ${limitBytes} bytes`, { code: "PAYLOAD_TOO_LARGE", httpStatus: 413, grpcCode: GrpcStatus.RESOURCE_EXHAUSTED });
  }
}

export class MethodNotAllowedError extends BpmError {
  constructor(method: string, path: string) {
    super(`${method} is not served on ${path}`, { code: "METHOD_NOT_ALLOWED", httpStatus: 405, grpcCode: GrpcStatus.UNIMPLEMENTED });
  }
}

export class UpstreamError extends BpmError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: "UPSTREAM_ERROR", httpStatus: 502, grpcCode: GrpcStatus.UNAVAILABLE, cause });
  }
}

export class UnavailableError extends BpmError {
  constructor(message: string, retryAfterMs?: number, code = "UNAVAILABLE") {
    super(message, { code, httpStatus: 503, grpcCode: GrpcStatus.UNAVAILABLE, retryAfterMs });
  }
}

export class UpstreamTimeoutError extends BpmError {
  constructor(message: string) {
    super(message, { code: "UPSTREAM_TIMEOUT", httpStatus: 504, grpcCode: GrpcStatus.DEADLINE_EXCEEDED });
  }
}

/** HTTP status → gRPC code for errors that arrive as plain statuses (e.g. from an upstream). */
export function grpcCodeForHttp(httpStatus: number): GrpcStatus {
  switch (httpStatus) {
    case 400: case 422: return GrpcStatus.INVALID_ARGUMENT;
    case 401: return GrpcStatus.UNAUTHENTICATED;
    case 403: return GrpcStatus.PERMISSION_DENIED;
    case 404: return GrpcStatus.NOT_FOUND;
    case 409: return GrpcStatus.FAILED_PRECONDITION;
    case 413: case 429: return GrpcStatus.RESOURCE_EXHAUSTED;
    case 501: return GrpcStatus.UNIMPLEMENTED;
    case 503: case 502: return GrpcStatus.UNAVAILABLE;
    case 504: return GrpcStatus.DEADLINE_EXCEEDED;
    default: return httpStatus >= 500 ? GrpcStatus.INTERNAL : GrpcStatus.UNKNOWN;
  }
}

/** gRPC code → HTTP status, the inverse used when a REST edge calls a gRPC upstream. */
export function httpStatusForGrpc(code: GrpcStatus): number {
  switch (code) {
    case GrpcStatus.OK: return 200;
    case GrpcStatus.INVALID_ARGUMENT: case GrpcStatus.OUT_OF_RANGE: return 400;
    case GrpcStatus.UNAUTHENTICATED: return 401;
    case GrpcStatus.PERMISSION_DENIED: return 403;
    case GrpcStatus.NOT_FOUND: return 404;
    case GrpcStatus.ALREADY_EXISTS: case GrpcStatus.ABORTED: case GrpcStatus.FAILED_PRECONDITION: return 409;
    case GrpcStatus.RESOURCE_EXHAUSTED: return 429;
    case GrpcStatus.CANCELLED: return 499;
    case GrpcStatus.UNIMPLEMENTED: return 501;
    case GrpcStatus.UNAVAILABLE: return 503;
    case GrpcStatus.DEADLINE_EXCEEDED: return 504;
    default: return 500;
  }
}
