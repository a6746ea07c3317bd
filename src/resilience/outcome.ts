import { status as GrpcStatus } from "@grpc/grpc-js";
import { isLocalRejection, TimeoutError } from "./errors.ts";

/** How a finished call counts for a breaker: against the downstream, for it, or not at all. */
export type Outcome = "success" | "failure" | "ignore";

/** Decides how an error counts; `callerSignal` is the signal the caller passed (its own cancellation). */
export type ErrorClassifier = (error: unknown, callerSignal?: AbortSignal) => Outcome;

/** Decides whether a value that did not throw (e.g. an HTTP Response) is really a failure. */
export type ResultPredicate = (result: unknown) => boolean;

/** Socket-level failures from Node, Bun's fetch and undici: the instance could not be reached. */
const CONNECTION_ERROR_CODES = new Set([
  "ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN",
  "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN",
  "ConnectionRefused", "ConnectionClosed", "FailedToOpenSocket",
  "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CLOSED",
]);

/** gRPC codes that say the server side is unwell (UNKNOWN and DATA_LOSS are what a crashing handler yields). */
const GRPC_FAILURE_CODES = new Set<number>([
  GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.INTERNAL, GrpcStatus.RESOURCE_EXHAUSTED,
  GrpcStatus.UNKNOWN, GrpcStatus.DATA_LOSS,
]);

/** gRPC codes worth another attempt: the call very likely never reached a healthy handler. */
const GRPC_RETRY_CODES = new Set<number>([GrpcStatus.UNAVAILABLE, GrpcStatus.DEADLINE_EXCEEDED]);

/**
 * A 5xx is the instance failing, except 501 Not Implemented and 505 HTTP Version Not
 * Supported: those describe the request (RFC 9110 §15.6.2, §15.6.6), which a client chooses.
 */
export function isUpstreamFailureStatus(status: number): boolean {
  return status >= 500 && status !== 501 && status !== 505;
}

/** HTTP statuses worth another attempt (gateway / unavailable / timeout). */
function isRetryableHttpStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}

/** The facts an error carries about what went wrong, whatever library raised it. */
interface ErrorFacts {
  kind: "http" | "grpc" | "connection" | "timeout" | "abort" | "local" | "client" | "other";
  status: number;
}

function factsOf(error: unknown): ErrorFacts {
  if (isLocalRejection(error)) return { kind: "local", status: 0 };
  // the client broke its own request (its body stream failed, timed out, went past a limit)
  if ((error as { clientCaused?: unknown } | null)?.clientCaused === true) return { kind: "client", status: 0 };
  if (error instanceof TimeoutError) return { kind: "timeout", status: 504 };
  if (typeof error !== "object" || error === null) return { kind: "other", status: 0 };
  const e = error as { httpStatus?: unknown; status?: unknown; code?: unknown; name?: unknown; details?: unknown; metadata?: unknown };
  // BpmError and friends: their own mapping to HTTP wins.
  if (typeof e.httpStatus === "number") return { kind: "http", status: e.httpStatus };
  // DOMException from fetch: AbortError when a signal fired, TimeoutError from AbortSignal.timeout().
  if (e.name === "AbortError") return { kind: "abort", status: 0 };
  if (e.name === "TimeoutError") return { kind: "timeout", status: 504 };
  if (typeof e.status === "number" && e.status >= 100 && e.status <= 599) return { kind: "http", status: e.status };
  // grpc-js ServiceError: numeric code plus details/metadata.
  if (typeof e.code === "number" && ("details" in e || "metadata" in e)) return { kind: "grpc", status: e.code };
  if (typeof e.code === "string" && CONNECTION_ERROR_CODES.has(e.code)) return { kind: "connection", status: 0 };
  // Errors wrapping a low-level cause (fetch's TypeError with cause, UpstreamError(cause)).
  return { kind: "other", status: 0 };
}

/**
 * Default breaker predicate: connection errors, timeouts, HTTP 5xx and gRPC
 * UNAVAILABLE / DEADLINE_EXCEEDED / INTERNAL / RESOURCE_EXHAUSTED (plus UNKNOWN, DATA_LOSS) count;
 * 4xx and other gRPC codes (NOT_FOUND…) are the downstream working correctly; the caller's
 * own cancellation, aborts and our local rejections are ignored. Unknown errors count, as in Resilience4j.
 */
export const defaultErrorClassifier: ErrorClassifier = (error, callerSignal) => {
  if (callerSignal !== undefined && callerSignal.aborted) return "ignore";
  const facts = factsOf(error);
  switch (facts.kind) {
    case "local": case "abort": case "client": return "ignore";
    case "timeout": case "connection": case "other": return "failure";
    case "http": return isUpstreamFailureStatus(facts.status) ? "failure" : "success";
    case "grpc":
      if (facts.status === GrpcStatus.CANCELLED) return "ignore";
      return GRPC_FAILURE_CODES.has(facts.status) ? "failure" : "success";
  }
};

/**
 * Default retry predicate: only what is likely transient — connection errors, timeouts,
 * HTTP 502/503/504, gRPC UNAVAILABLE/DEADLINE_EXCEEDED. Never the caller's cancellation,
 * an open breaker, a full bulkhead or a rate limit (retrying those only adds load).
 */
export function isRetryableError(error: unknown, callerSignal?: AbortSignal): boolean {
  if (callerSignal !== undefined && callerSignal.aborted) return false;
  const facts = factsOf(error);
  switch (facts.kind) {
    case "timeout": case "connection": return true;
    case "http": return isRetryableHttpStatus(facts.status);
    case "grpc": return GRPC_RETRY_CODES.has(facts.status);
    default: return false;
  }
}

/**
 * Marks an object that is an HTTP response without being a fetch Response (the pooled
 * client's WireResponse), so the predicates below treat both alike.
 */
export const HTTP_RESPONSE: unique symbol = Symbol.for("bpm.httpResponse");

/** A fetch Response, or an object marked with HTTP_RESPONSE. */
export function isHttpResponse(result: unknown): result is { readonly status: number } {
  return result instanceof Response || (typeof result === "object" && result !== null && (result as { [HTTP_RESPONSE]?: boolean })[HTTP_RESPONSE] === true);
}

/** A proxied HTTP response with a 5xx status (but 501, 505) counts as a breaker failure though nothing threw. */
export const isFailedResponse: ResultPredicate = (result) => isHttpResponse(result) && isUpstreamFailureStatus(result.status);

/** A proxied HTTP response worth retrying (502/503/504). */
export const isRetryableResponse: ResultPredicate = (result) => isHttpResponse(result) && isRetryableHttpStatus(result.status);

const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

/** RFC 9110 idempotent methods, or any request carrying an Idempotency-Key, may be retried. */
export function isIdempotentHttp(method: string, headers?: Headers | { get(name: string): string | null }): boolean {
  if (IDEMPOTENT_METHODS.has(method.toUpperCase())) return true;
  const key = headers?.get("idempotency-key");
  return key !== undefined && key !== null && key !== "";
}
