import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";
import { BpmError, UnavailableError, UpstreamError, UpstreamTimeoutError } from "../../platform/errors.ts";
import { GrpcRefusalError } from "../../platform/grpc-status.ts";

const isGrpcError = (err: unknown): err is ServiceError => typeof (err as ServiceError)?.code === "number" && "metadata" in (err as object);

/** gRPC codes that say the request itself was refused: sending it again cannot help. */
const PERMANENT_CODES: ReadonlySet<number> = new Set([
  GrpcStatus.INVALID_ARGUMENT,
  GrpcStatus.NOT_FOUND,
  GrpcStatus.ALREADY_EXISTS,
  GrpcStatus.PERMISSION_DENIED,
  GrpcStatus.FAILED_PRECONDITION,
  GrpcStatus.OUT_OF_RANGE,
  GrpcStatus.UNIMPLEMENTED,
]);
// UNAUTHENTICATED is not among them: a credential refused (a key not yet shared, a clock off) is a
// deployment fault that gets mended, and a step's task must not be given up for it

/** True when a downstream refused the call for good (bad request, missing task); false for outages, timeouts, open breakers. */
export function isPermanentFailure(err: unknown): boolean {
  return isGrpcError(err) && PERMANENT_CODES.has(err.code);
}

export function grpcCodeOf(err: unknown): number | undefined {
  return isGrpcError(err) ? err.code : undefined;
}

/** How long the failure asks us to wait (an open breaker, no healthy instance), if it says. */
export function retryAfterOf(err: unknown): number | undefined {
  return err instanceof BpmError ? err.retryAfterMs : undefined;
}

/**
 * A downstream failure as the error our own callers should see: outages are 503 (with
 * Retry-After), timeouts 504, refusals keep their status and machine code, anything else 502.
 */
export function upstreamError(service: string, err: unknown): BpmError {
  if (err instanceof BpmError) return err;
  if (!isGrpcError(err)) return new UpstreamError(`${service} call failed`, err);
  const details = err.details || GrpcStatus[err.code] || "unknown error";
  switch (err.code) {
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.CANCELLED:
      return new UnavailableError(`${service} is unavailable: ${details}`, 1_000);
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new UpstreamTimeoutError(`${service} did not answer in time`);
    case GrpcStatus.INTERNAL:
    case GrpcStatus.UNKNOWN:
    case GrpcStatus.DATA_LOSS:
      return new UpstreamError(`${service} failed: ${details}`, err);
  }
  const code = err.metadata?.get("x-error-code")[0];
  return new GrpcRefusalError(`${service}: ${details}`, {
    code: typeof code === "string" ? code : GrpcStatus[err.code] ?? "UPSTREAM_ERROR",
    grpcCode: err.code,
    cause: err,
  });
}
