import { describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { BpmError, NotFoundError, UpstreamError } from "../../../src/platform/errors.ts";
import { BulkheadFullError, CallNotPermittedError, RateLimitedError, TimeoutError } from "../../../src/resilience/errors.ts";
import { defaultErrorClassifier, isIdempotentHttp, isRetryableError } from "../../../src/resilience/outcome.ts";

/** A loopback port with nothing listening: bind one, then close it. */
function closedPort(): number {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("failure classification", () => {
  test("a real refused fetch counts as failure and is retryable", async () => {
    const error = await caught(fetch(`http://127.0.0.1:${closedPort()}/`));
    expect(defaultErrorClassifier(error)).toBe("failure");
    expect(isRetryableError(error)).toBe(true);
  });

  test("a real grpc-js call to a dead port (UNAVAILABLE) counts as failure and is retryable", async () => {
    const client = new grpc.Client(`127.0.0.1:${closedPort()}`, grpc.credentials.createInsecure());
    try {
      const error = await caught(new Promise((resolve, reject) => {
        client.makeUnaryRequest("/x.Y/Z", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (err, value) => (err ? reject(err) : resolve(value)));
      }));
      expect((error as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
      expect(defaultErrorClassifier(error)).toBe("failure");
      expect(isRetryableError(error)).toBe(true);
    } finally {
      client.close();
    }
  });

  test("our own typed errors: timeouts fail, local rejections are ignored", () => {
    expect(defaultErrorClassifier(new TimeoutError("x", 5, "timeout"))).toBe("failure");
    expect(defaultErrorClassifier(new UpstreamError("bad gateway"))).toBe("failure");
    for (const local of [new CallNotPermittedError("x", "OPEN", 1), new BulkheadFullError("x", 1), new RateLimitedError("x", 1, 1)]) {
      expect(defaultErrorClassifier(local)).toBe("ignore");
      expect(isRetryableError(local)).toBe(false);
    }
    expect(new RateLimitedError("slow down", 600, 100)).toBeInstanceOf(BpmError);
  });

  test("HTTP and gRPC client errors are the downstream working, not failing", () => {
    expect(defaultErrorClassifier(new NotFoundError("none"))).toBe("success");
    expect(defaultErrorClassifier({ status: 429 })).toBe("success");
    expect(defaultErrorClassifier({ code: grpc.status.PERMISSION_DENIED, details: "", metadata: new grpc.Metadata() })).toBe("success");
    expect(isRetryableError({ status: 500 })).toBe(false);
    expect(isRetryableError({ status: 503 })).toBe(true);
  });

  test("an abort is ignored; an AbortSignal.timeout() expiry is a failure", () => {
    expect(defaultErrorClassifier(new DOMException("aborted", "AbortError"))).toBe("ignore");
    expect(defaultErrorClassifier(new DOMException("timed out", "TimeoutError"))).toBe("failure");
    const caller = new AbortController();
    caller.abort();
    expect(defaultErrorClassifier(new Error("whatever the transport threw"), caller.signal)).toBe("ignore");
  });

  test("idempotent HTTP: safe methods, PUT/DELETE, or any request with an Idempotency-Key", () => {
    expect(isIdempotentHttp("get")).toBe(true);
    expect(isIdempotentHttp("DELETE")).toBe(true);
    expect(isIdempotentHttp("POST", new Headers())).toBe(false);
    expect(isIdempotentHttp("POST", new Headers({ "Idempotency-Key": "k-1" }))).toBe(true);
    expect(isIdempotentHttp("PATCH")).toBe(false);
  });
});
