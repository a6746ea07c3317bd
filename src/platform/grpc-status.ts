import { status as GrpcStatus } from "@grpc/grpc-js";
import { BpmError } from "../core/errors.ts";

/**
 * The gRPC edge of the error model: core errors carry an HTTP status, and this
 * module turns it into a gRPC status code (and back, for errors that arrive from
 * a gRPC upstream).
 */

/** HTTP status → gRPC code, for our own errors and for plain statuses from an upstream. */
export function grpcCodeForHttp(httpStatus: number): GrpcStatus {
  switch (httpStatus) {
    case 400: case 422: return GrpcStatus.INVALID_ARGUMENT;
    case 401: return GrpcStatus.UNAUTHENTICATED;
    case 403: return GrpcStatus.PERMISSION_DENIED;
    case 404: return GrpcStatus.NOT_FOUND;
    case 405: case 501: return GrpcStatus.UNIMPLEMENTED;
    case 409: return GrpcStatus.FAILED_PRECONDITION;
    case 413: case 429: return GrpcStatus.RESOURCE_EXHAUSTED;
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

/**
 * A refusal that came from a gRPC upstream, passed on with its own gRPC code
 * (ALREADY_EXISTS stays ALREADY_EXISTS rather than becoming 409 → FAILED_PRECONDITION).
 */
export class GrpcRefusalError extends BpmError {
  readonly grpcCode: GrpcStatus;
  constructor(message: string, opts: { code: string; grpcCode: GrpcStatus; cause?: unknown }) {
    super(message, { code: opts.code, httpStatus: httpStatusForGrpc(opts.grpcCode), cause: opts.cause });
    this.grpcCode = opts.grpcCode;
  }
}

/** The gRPC code a gRPC server answers with for one of our errors. */
export function grpcCodeOfError(err: BpmError): GrpcStatus {
  return err instanceof GrpcRefusalError ? err.grpcCode : grpcCodeForHttp(err.httpStatus);
}
