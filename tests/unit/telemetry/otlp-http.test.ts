import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import type { ExportResponse, IExporterTransport } from "@opentelemetry/otlp-exporter-base";
import { otlpProtobufTransport } from "../../../src/telemetry/sdk.ts";
import { FetchOtlpTransport, RetryingTransport, retryAfterMillis } from "../../../src/telemetry/otlp-http.ts";

type Seen = { method: string; path: string; headers: Headers; body: Uint8Array };

/** A collector answering each request with the next of `answers` (the last one repeats). */
function collector(answers: Array<() => Response>) {
  const seen: Seen[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      seen.push({ method: req.method, path: new URL(req.url).pathname, headers: req.headers, body: new Uint8Array(await req.arrayBuffer()) });
      return answers[Math.min(seen.length - 1, answers.length - 1)]!();
    },
  });
  servers.push(server);
  return { url: `http://127.0.0.1:${server.port}/v1/traces`, seen };
}
const servers: Array<{ stop(force: boolean): unknown }> = [];
const envBefore = { ...process.env };
afterEach(() => {
  for (const s of servers.splice(0)) s.stop(true);
  for (const k of Object.keys(process.env)) if (k.startsWith("OTEL_") && !(k in envBefore)) delete process.env[k];
});

const ok = () => new Response(new Uint8Array(0), { headers: { "content-type": "application/x-protobuf" } });
const bytes = new Uint8Array([10, 3, 1, 2, 3]);

function exportOnce(url: string): Promise<ExportResult> {
  const transport = otlpProtobufTransport({ url, timeoutMillis: 2_000 });
  return new Promise((resolve) => transport.export({ bytes, count: 1 }, resolve));
}

describe("OTLP/HTTP export to a plain-http collector", () => {
  test("POSTs the encoded batch as is, with the library's Content-Type and User-Agent and the headers from OTEL_EXPORTER_OTLP_HEADERS", async () => {
    process.env.OTEL_EXPORTER_OTLP_HEADERS = "x-api-key=secret,x-tenant=acme";
    const c = collector([ok]);
    expect((await exportOnce(c.url)).code).toBe(ExportResultCode.SUCCESS);
    expect(c.seen).toHaveLength(1);
    const [req] = c.seen;
    expect(req!.method).toBe("POST");
    expect(req!.path).toBe("/v1/traces");
    expect([...req!.body]).toEqual([...bytes]);
    expect(req!.headers.get("content-type")).toBe("application/x-protobuf");
    expect(req!.headers.get("x-api-key")).toBe("secret");
    expect(req!.headers.get("x-tenant")).toBe("acme");
    const version = JSON.parse(readFileSync(require.resolve("@opentelemetry/otlp-exporter-base/package.json"), "utf8")).version;
    expect(req!.headers.get("user-agent")).toBe(`OTel-OTLP-Exporter-JavaScript/${version}`);
    expect(req!.headers.get("content-encoding")).toBeNull();
  });

  test("OTEL_EXPORTER_OTLP_COMPRESSION=gzip sends the batch gzipped, saying so", async () => {
    process.env.OTEL_EXPORTER_OTLP_COMPRESSION = "gzip";
    const c = collector([ok]);
    expect((await exportOnce(c.url)).code).toBe(ExportResultCode.SUCCESS);
    expect(c.seen[0]!.headers.get("content-encoding")).toBe("gzip");
    expect([...gunzipSync(c.seen[0]!.body)]).toEqual([...bytes]);
  });

  test("503 with Retry-After is retried and the batch then counts as exported", async () => {
    const c = collector([() => new Response("busy", { status: 503, headers: { "retry-after": "0" } }), ok]);
    expect((await exportOnce(c.url)).code).toBe(ExportResultCode.SUCCESS);
    expect(c.seen).toHaveLength(2);
    expect([...c.seen[1]!.body]).toEqual([...bytes]);
  });

  test("HTTP_PROXY in the environment does not divert the export (the library's node:http transport never used it)", async () => {
    const proxied: string[] = [];
    const proxy = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => (proxied.push(req.url), new Response("proxy")) });
    servers.push(proxy);
    const before = [process.env.HTTP_PROXY, process.env.http_proxy];
    process.env.HTTP_PROXY = process.env.http_proxy = `http://127.0.0.1:${proxy.port}`;
    try {
      const c = collector([ok]);
      expect((await exportOnce(c.url)).code).toBe(ExportResultCode.SUCCESS);
      expect(c.seen).toHaveLength(1);
      expect(proxied).toEqual([]);
    } finally {
      [process.env.HTTP_PROXY, process.env.http_proxy] = before;
      if (before[0] === undefined) delete process.env.HTTP_PROXY;
      if (before[1] === undefined) delete process.env.http_proxy;
    }
  });

  test("400 fails at once: no retry", async () => {
    const c = collector([() => new Response("bad", { status: 400 })]);
    const result = await exportOnce(c.url);
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(c.seen).toHaveLength(1);
  });
});

describe("FetchOtlpTransport answers as the library's node:http transport", () => {
  const transport = (url: string) => new FetchOtlpTransport({ url, headers: () => ({ "Content-Type": "application/x-protobuf" }), compression: "none" });

  test("429, 502, 503, 504 are retryable, with Retry-After in ms; other errors are failures with the status", async () => {
    for (const status of [429, 502, 503, 504]) {
      const c = collector([() => new Response("", { status, headers: { "retry-after": "2" } })]);
      expect(await transport(c.url).send(bytes, 1_000)).toEqual({ status: "retryable", retryInMillis: 2_000 });
    }
    const c = collector([() => new Response("nope", { status: 500 })]);
    const r = (await transport(c.url).send(bytes, 1_000)) as Extract<ExportResponse, { status: "failure" }>;
    expect(r.status).toBe("failure");
    expect((r.error as { code?: number }).code).toBe(500);
  });

  test("a refused connection is retryable; a collector that does not answer in time too", async () => {
    const refused = await transport("http://127.0.0.1:1/v1/traces").send(bytes, 1_000);
    expect(refused.status).toBe("retryable");
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const r = await transport(`http://127.0.0.1:${silent.port}/v1/traces`).send(bytes, 50);
      expect(r).toMatchObject({ status: "retryable", error: new Error("Request timed out") });
    } finally {
      silent.stop(true);
    }
  });

  test("Retry-After: seconds, zero (retry now), an HTTP date, absent", () => {
    expect(retryAfterMillis("3")).toBe(3_000);
    expect(retryAfterMillis("0")).toBe(-1);
    expect(retryAfterMillis(null)).toBeUndefined();
    expect(retryAfterMillis(new Date(Date.now() - 10_000).toUTCString())).toBe(0);
  });
});

describe("RetryingTransport keeps the library's retry rules", () => {
  class Scripted implements IExporterTransport {
    calls: number[] = [];
    constructor(private readonly answers: ExportResponse[]) {}
    async send(_data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
      this.calls.push(timeoutMillis);
      return this.answers[Math.min(this.calls.length - 1, this.answers.length - 1)]!;
    }
    shutdown(): void {}
  }
  const slept: number[] = [];
  const sleep = async (ms: number) => void slept.push(ms);
  afterEach(() => void slept.splice(0));

  test("backs off 1 s, then ×1.5 (jitter 0 here), for at most 5 retries", async () => {
    const inner = new Scripted([{ status: "retryable" }]);
    const result = await new RetryingTransport(inner, () => 0.5, sleep).send(bytes, 60_000);
    expect(result.status).toBe("retryable");
    expect(inner.calls).toHaveLength(6);
    expect(slept).toEqual([1_000, 1_500, 2_250, 3_375, 5_000]);
  });

  test("the collector's Retry-After wins over the backoff; a success ends the retries", async () => {
    const inner = new Scripted([{ status: "retryable", retryInMillis: 7 }, { status: "success" }]);
    expect((await new RetryingTransport(inner, () => 0.5, sleep).send(bytes, 60_000)).status).toBe("success");
    expect(slept).toEqual([7]);
  });

  test("no retry that would end past the export timeout", async () => {
    const inner = new Scripted([{ status: "retryable", retryInMillis: 5_000 }]);
    expect((await new RetryingTransport(inner, () => 0.5, sleep).send(bytes, 1_000)).status).toBe("retryable");
    expect(inner.calls).toHaveLength(1);
    expect(slept).toEqual([]);
  });

  test("a failure is not retried", async () => {
    const inner = new Scripted([{ status: "failure", error: new Error("bad request") }]);
    expect((await new RetryingTransport(inner, () => 0.5, sleep).send(bytes, 60_000)).status).toBe("failure");
    expect(inner.calls).toHaveLength(1);
  });
});
