import { diag } from "@opentelemetry/api";
import { OTLPExporterError, type ExportResponse, type IExporterTransport } from "@opentelemetry/otlp-exporter-base";

/**
 * OTLP/HTTP to a plain-http collector with the runtime's fetch: one call with the batch's bytes
 * as the body, where the library's node:http transport pipes them through a Readable stream into
 * a ClientRequest (≈ 4× the CPU per batch in-process). The rules are the library's
 * (http-transport-utils): its headers (OTEL_EXPORTER_OTLP_HEADERS, Content-Type, User-Agent),
 * gzip when configured, 2xx success, 429/502/503/504 and the same network errors retryable with
 * Retry-After, a timeout per attempt, responses above 4 MB refused. https stays with the library
 * (its agent carries the OTEL_EXPORTER_OTLP_*CERTIFICATE* files).
 *
 * The library's own fetch delegate (`@opentelemetry/otlp-exporter-base/browser-http`) is written
 * for browsers, not used here: no compression, the response body drained and dropped (no partial
 * success reported), only a TypeError without a cause counts as a retryable network error,
 * `keepalive` budgets and CORS modes, and it would follow HTTP_PROXY under Bun.
 */
export class FetchOtlpTransport implements IExporterTransport {
  constructor(
    private readonly params: {
      url: string;
      headers: () => Record<string, string> | Promise<Record<string, string>>;
      compression: "gzip" | "none";
      userAgent?: string;
    },
    private readonly send_: typeof fetch = fetch,
  ) {}

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    const headers = { ...(await this.params.headers()) };
    headers["User-Agent"] = this.params.userAgent ? `${this.params.userAgent} ${USER_AGENT}` : USER_AGENT;
    let body = data;
    if (this.params.compression === "gzip") {
      headers["Content-Encoding"] = "gzip";
      body = Bun.gzipSync(data as Uint8Array<ArrayBuffer>);
    }
    let res: Response;
    let bytes: Uint8Array;
    try {
      res = await this.send_(this.params.url, { method: "POST", headers, body, signal: AbortSignal.timeout(timeoutMillis), proxy: NO_PROXY });
      const length = Number(res.headers.get("content-length") ?? 0);
      if (length > MAX_RESPONSE_BODY_SIZE) {
        void res.body?.cancel();
        return { status: "failure", error: new Error(`OTLP export response body exceeded size limit of ${MAX_RESPONSE_BODY_SIZE} bytes`) };
      }
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      if (error.name === "TimeoutError") return { status: "retryable", error: new Error("Request timed out") };
      const code = (error as { code?: unknown }).code;
      return typeof code === "string" && RETRYABLE_NETWORK_ERRORS.has(code) ? { status: "retryable", error } : { status: "failure", error };
    }
    if (bytes.length > MAX_RESPONSE_BODY_SIZE) return { status: "failure", error: new Error(`OTLP export response body exceeded size limit of ${MAX_RESPONSE_BODY_SIZE} bytes`) };
    if (res.status >= 200 && res.status <= 299) return { status: "success", data: bytes };
    if (RETRYABLE_STATUS.has(res.status)) return { status: "retryable", retryInMillis: retryAfterMillis(res.headers.get("retry-after")) };
    return { status: "failure", error: new OTLPExporterError(res.statusText, res.status, new TextDecoder().decode(bytes)) };
  }

  shutdown(): void {}
}

/**
 * The library's retrying transport (not exported by it), same constants: up to 5 retries of a
 * retryable answer, backoff from 1 s ×1.5 with ±20% jitter capped at 5 s, or the collector's
 * Retry-After; no retry that would end past the export timeout.
 */
export class RetryingTransport implements IExporterTransport {
  constructor(
    private readonly transport: IExporterTransport,
    private readonly random: () => number = Math.random,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms))),
  ) {}

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    let attempts = MAX_ATTEMPTS;
    let nextBackoff = INITIAL_BACKOFF_MS;
    const deadline = Date.now() + timeoutMillis;
    let result = await this.transport.send(data, timeoutMillis);
    while (result.status === "retryable" && attempts > 0) {
      attempts--;
      const backoff = Math.max(Math.min(nextBackoff * (1 + (this.random() * 2 * JITTER - JITTER)), MAX_BACKOFF_MS), 0);
      nextBackoff *= BACKOFF_MULTIPLIER;
      const retryInMillis = result.retryInMillis ?? backoff;
      const remaining = deadline - Date.now();
      if (retryInMillis > remaining) {
        diag.info(`Export retry time ${Math.round(retryInMillis)}ms exceeds remaining timeout ${Math.round(remaining)}ms, not retrying further.`);
        return result;
      }
      await this.sleep(retryInMillis);
      result = await this.transport.send(data, remaining);
    }
    return result;
  }

  shutdown(): void {
    this.transport.shutdown();
  }
}

/** Retry-After in ms: seconds (0 or less: -1, retry now), or an HTTP date; absent: undefined (backoff). */
export function retryAfterMillis(value: string | null): number | undefined {
  if (value == null) return undefined;
  const seconds = Number.parseInt(value, 10);
  if (Number.isInteger(seconds)) return seconds > 0 ? seconds * 1000 : -1;
  const delay = new Date(value).getTime() - Date.now();
  return delay >= 0 ? delay : 0;
}

/** Bun's fetch sends through HTTP_PROXY when it is set (the library's node:http never did); `false` keeps the export direct. */
const NO_PROXY = false as unknown as string;
const MAX_ATTEMPTS = 5;
const INITIAL_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;
const BACKOFF_MULTIPLIER = 1.5;
const JITTER = 0.2;
const MAX_RESPONSE_BODY_SIZE = 4 * 1024 * 1024;
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const RETRYABLE_NETWORK_ERRORS = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENOTFOUND", "ENETUNREACH", "EHOSTUNREACH"]);
/** What the library's transport sends (its VERSION), so collectors see the same client. */
const USER_AGENT = "OTel-OTLP-Exporter-JavaScript/0.301.0";
