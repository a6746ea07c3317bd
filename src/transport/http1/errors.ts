import { status as GrpcStatus } from "@grpc/grpc-js";
import { BpmError } from "../../platform/errors.ts";

/** The caller's request body stream failed (e.g. the client went away mid-upload): not the upstream's fault. */
export class RequestBodyError extends BpmError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: "REQUEST_BODY_FAILED", httpStatus: 400, grpcCode: GrpcStatus.CANCELLED, cause });
  }
}
