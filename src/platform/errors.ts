// The error classes live in src/core/errors.ts and the gRPC mapping in ./grpc-status.ts;
// this module keeps the older import path working.
export * from "../core/errors.ts";
export { grpcCodeForHttp, httpStatusForGrpc } from "./grpc-status.ts";
