import { status as GrpcStatus } from "@grpc/grpc-js";
import { BpmError } from "../../platform/errors.ts";

/**
 * The caller's request body stream failed (the client went away mid-upload, sent a
 * malformed chunked body, went past the body limit, stopped sending): not the
 * upstream's fault. A cause that is a BpmError keeps its status and code (413, 408, 400).
 * `clientCaused` tells the breaker and the balancer not to count it against the instance.
 */
export class RequestBodyError extends BpmError {
  readonly clientCaused = true;
  constructor(message: string, cause?: unknown) {
    const c = cause instanceof BpmError ? cause : undefined;
    super(c?.message ?? message, { code: c?.code ?? "REQUEST_BODY_FAILED", httpStatus: c?.httpStatus ?? 400, grpcCode: c?.grpcCode ?? GrpcStatus.CANCELLED, cause });
  }
}
