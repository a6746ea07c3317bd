import { describe, expect, test } from "bun:test";
import { status } from "@grpc/grpc-js";
import {
  BpmError,
  ConflictError,
  ForbiddenError,
  FormValidationError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnavailableError,
  UpstreamError,
  UpstreamTimeoutError,
  ValidationError,
} from "../../../src/core/errors.ts";
import { RateLimitedError } from "../../../src/resilience/errors.ts";
import { toGrpcError } from "../../../src/platform/grpc.ts";
import { GrpcRefusalError } from "../../../src/platform/grpc-status.ts";
import { errorResponse } from "../../../src/platform/http.ts";

// Each error of the core answers the same at both edges: its HTTP status at the HTTP
// edge, the matching gRPC code at the gRPC edge.
const CASES: Array<[BpmError, number, status]> = [
  [new ValidationError("bad"), 400, status.INVALID_ARGUMENT],
  [new UnauthorizedError("who"), 401, status.UNAUTHENTICATED],
  [new ForbiddenError("no"), 403, status.PERMISSION_DENIED],
  [new NotFoundError("gone"), 404, status.NOT_FOUND],
  [new MethodNotAllowedError("TRACE", "/x"), 405, status.UNIMPLEMENTED],
  [new ConflictError("taken"), 409, status.FAILED_PRECONDITION],
  [new PayloadTooLargeError(10), 413, status.RESOURCE_EXHAUSTED],
  [new FormValidationError("form", []), 422, status.INVALID_ARGUMENT],
  [new RateLimitedError("slow down", 1_500, 10), 429, status.RESOURCE_EXHAUSTED],
  [new UpstreamError("broke"), 502, status.UNAVAILABLE],
  [new UnavailableError("down", 2_000), 503, status.UNAVAILABLE],
  [new UpstreamTimeoutError("late"), 504, status.DEADLINE_EXCEEDED],
  [new BpmError("boom", { code: "INTERNAL", httpStatus: 500 }), 500, status.INTERNAL],
];

describe("errors at the two edges", () => {
  test.each(CASES)("%p → HTTP %d, gRPC %d", (err, httpStatus, grpcCode) => {
    expect(errorResponse(err, "cid").status).toBe(httpStatus);
    const ge = toGrpcError(err);
    expect(ge.code).toBe(grpcCode);
    expect(ge.metadata.get("x-error-code")).toEqual([err.code]);
  });

  test("a refusal passed on from a gRPC upstream keeps its own gRPC code", () => {
    const err = new GrpcRefusalError("task-service: exists", { code: "ALREADY_EXISTS", grpcCode: status.ALREADY_EXISTS });
    expect(err.httpStatus).toBe(409);
    expect(toGrpcError(err).code).toBe(status.ALREADY_EXISTS);
  });

  test("Retry-After travels as header and metadata", async () => {
    const err = new UnavailableError("down", 2_500);
    const res = errorResponse(err, "cid");
    expect(res.headers.get("retry-after")).toBe("3");
    expect(await res.json()).toEqual({ error: "down", code: "UNAVAILABLE", correlation_id: "cid", retryAfter: 3 });
    expect(toGrpcError(err).metadata.get("retry-after-ms")).toEqual(["2500"]);
  });
});
