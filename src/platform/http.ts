import { Elysia } from "elysia";
import Negotiator from "negotiator";
import * as v from "valibot";
import { BpmError, MethodNotAllowedError, PayloadTooLargeError, ValidationError } from "../core/errors.ts";
import { AllowedMethods } from "./method-not-allowed.ts";
import { admitRequest, pathOf, type Authenticate } from "./request-auth.ts";
import type { HealthRegistry } from "./health.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { faultRoutes, type FaultInjector } from "./faults.ts";
import { parseInput } from "./parse-input.ts";
import { elysiaServerSpans, setHttpRoute } from "../telemetry/http-spans.ts";
import { tracingEnabled } from "../telemetry/tracing.ts";

export { parseInput };

export const CORRELATION_HEADER = "x-correlation-id";
const CORRELATION_RE = /^[A-Za-z0-9._:\-]{1,128}$/;

/** Keeps a caller's correlation id when it is sane, else makes one. */
export function correlationIdFrom(headers: { get(name: string): string | null }): string {
  const given = headers.get(CORRELATION_HEADER);
  return given && CORRELATION_RE.test(given) ? given : crypto.randomUUID();
}

export interface ErrorBody {
  error: string;
  code: string;
  correlation_id: string;
  [extra: string]: unknown;
}

/** The one JSON error shape of DESIGN.md, with Retry-After where a status needs it. */
export function errorResponse(err: unknown, correlationId: string, extraHeaders?: Record<string, string>): Response {
  const e = toBpmError(err);
  const body: ErrorBody = { error: e.message, code: e.code, correlation_id: correlationId };
  const headers = new Headers(extraHeaders);
  headers.set("content-type", "application/json");
  headers.set(CORRELATION_HEADER, correlationId);
  if (e.details !== undefined) body.details = e.details;
  if (e.retryAfterMs !== undefined) {
    const seconds = Math.max(1, Math.ceil(e.retryAfterMs / 1000));
    headers.set("retry-after", String(seconds));
    body.retryAfter = seconds;
  }
  return new Response(JSON.stringify(body), { status: e.httpStatus, headers });
}

export function toBpmError(err: unknown): BpmError {
  if (err instanceof BpmError) return err;
  // a library's error that names its own HTTP status and code (the HTTP/1.1 server's and client's)
  const e = err as { httpStatus?: unknown; code?: unknown; message?: unknown } | null;
  if (typeof e?.httpStatus === "number" && typeof e.code === "string" && e.httpStatus >= 400 && e.httpStatus <= 599) {
    return new BpmError(String(e.message), { code: e.code, httpStatus: e.httpStatus, cause: err });
  }
  return new BpmError("internal error", { code: "INTERNAL", httpStatus: 500, cause: err });
}

/** A JSON object body (a missing body counts as `{}` unless `required`); anything else is a 400. */
export function objectBody(body: unknown, required = false): Record<string, unknown> {
  if (!required && (body === undefined || body === "")) return {};
  if (body !== null && typeof body === "object" && !Array.isArray(body)) return { ...(body as Record<string, unknown>) };
  throw new ValidationError("request body must be a JSON object", [{ field: "(body)", message: "must be a JSON object" }]);
}

const IdempotencyKeySchema = v.pipe(v.string(), v.maxLength(200, "must be at most 200 characters"));
/** The Idempotency-Key header, checked as the documents describe it (at most 200 characters); undefined when absent or empty. */
export function idempotencyKeyFrom(headers: Headers): string | undefined {
  const key = headers.get("idempotency-key");
  return key ? parseInput(IdempotencyKeySchema, key, "Idempotency-Key header") : undefined;
}

export interface HttpAppOptions {
  role: string;
  log: Logger;
  metrics: Metrics;
  health: HealthRegistry;
  lifecycle: Lifecycle;
  bodyLimitBytes: number;
  /** When set (fault_injection.enabled), /admin/faults can make /api requests fail or stall. */
  faults?: FaultInjector;
  /** GET /metrics with `Accept: application/json` (default: the registry's metrics as JSON). */
  metricsJson?: () => Promise<unknown>;
  /**
   * Who calls: every path but the open ones needs a credential this accepts (401 otherwise), and
   * /admin/* the admin claim (403), both decided before the body is read. Handlers read the
   * caller with `principalFrom(request)`.
   */
  authenticate?: Authenticate;
}

/**
 * An Elysia app with what every bpm HTTP port needs: correlation ids, the error
 * shape, the body limit, RED metrics by route template, /health and /metrics.
 */
export function createHttpApp(opts: HttpAppOptions) {
  const { role, metrics, health, lifecycle, log, bodyLimitBytes, faults, authenticate } = opts;
  const metricsJson = opts.metricsJson ?? (async () => ({ role, timestamp: new Date().toISOString(), metrics: await metrics.registry.getMetricsAsJSON() }));
  const reqCounter = metrics.httpRequests;
  const reqDuration = metrics.httpDuration;

  const app = new Elysia({ name: `http-${role}` });
  // read at request time: the role's own routes are added to this app after it is made
  const allowed = new AllowedMethods(() => app.routes);
  // a server span around each request only while tracing is on; off, the app is untouched
  if (tracingEnabled) app.wrap(elysiaServerSpans(role));
  return app
    .derive({ as: "global" }, ({ request, route }) => {
      setHttpRoute(request.method, route);
      return { correlationId: correlationIdFrom(request.headers), startedAt: performance.now() };
    })
    .onRequest(({ request, set }) => {
      const len = request.headers.get("content-length");
      if (len !== null && Number(len) > bodyLimitBytes) {
        set.status = 413;
        return errorResponse(new PayloadTooLargeError(bodyLimitBytes), correlationIdFrom(request.headers));
      }
      const pathname = pathOf(request.url);
      if (authenticate) {
        const refuse = (err: unknown) => {
          const res = errorResponse(err, correlationIdFrom(request.headers));
          set.status = res.status;
          return res;
        };
        const refused = admitRequest(request, pathname, authenticate);
        if (refused instanceof Promise) return refused.then((err) => (err !== undefined ? refuse(err) : faults?.fault ? faults.apply(pathname) : undefined));
        if (refused !== undefined) return refuse(refused);
      }
      if (faults?.fault) return faults.apply(pathname);
    })
    .onAfterHandle({ as: "global" }, ({ set, correlationId }) => {
      set.headers[CORRELATION_HEADER] = correlationId;
    })
    .onError({ as: "global" }, ({ code, error, request, set }) => {
      const cid = (set.headers[CORRELATION_HEADER] as string | undefined) ?? correlationIdFrom(request.headers);
      // ours first: Elysia names an error by its `code`, so our NOT_FOUND would pass for an unmatched route
      if (error instanceof BpmError) return errorResponse(error, cid);
      switch (code) {
        case "PARSE":
          return errorResponse(new ValidationError("request body is not valid JSON"), cid);
        case "NOT_FOUND": {
          const path = new URL(request.url).pathname;
          const allow = allowed.allow(path);
          if (allow !== undefined && request.method === "OPTIONS") return new Response(null, { status: 204, headers: { allow: [...allow, "OPTIONS"].join(", "), [CORRELATION_HEADER]: cid } });
          if (allow !== undefined && !allow.includes(request.method)) return errorResponse(new MethodNotAllowedError(request.method, path), cid, { allow: allow.join(", ") });
          return errorResponse(new BpmError(`no route for ${request.method} ${path}`, { code: "NOT_FOUND", httpStatus: 404 }), cid);
        }
        case "VALIDATION":
          return errorResponse(new ValidationError(String((error as Error).message).split("\n")[0] ?? "invalid input"), cid);
        default: {
          const e = toBpmError(error);
          if (e.httpStatus >= 500 && !(error instanceof BpmError)) log.error("unhandled error", { err: error, path: new URL(request.url).pathname, correlation_id: cid });
          return errorResponse(e, cid);
        }
      }
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set, startedAt }) => {
      const routeLabel = route || "unmatched";
      const status = String(set.status ?? 200);
      reqCounter.labels(role, request.method, routeLabel, status).inc();
      if (startedAt !== undefined) reqDuration.labels(role, request.method, routeLabel).observe((performance.now() - startedAt) / 1000);
    })
    .get("/health", async ({ set }) => {
      const h = await health.check();
      if (lifecycle.draining) {
        h.status = "DOWN";
        h.details.lifecycle = { status: "DOWN", details: { reason: "shutting down" }, timestamp: Date.now() };
      }
      set.status = h.status === "UP" ? 200 : 503;
      return h;
    })
    .get("/metrics", async ({ request, set }) => {
      // Prometheus text unless JSON is preferred (seed 004's dashboards read JSON)
      if (prefersJson(request.headers.get("accept"))) return Response.json(await metricsJson());
      set.headers["content-type"] = metrics.contentType;
      return metrics.text();
    })
    .use(faults ? faultRoutes(faults) : new Elysia({ name: "no-faults" }));
}

const METRICS_TYPES = ["text/plain", "application/json"];
function prefersJson(accept: string | null): boolean {
  return accept !== null && new Negotiator({ headers: { accept } }).mediaType(METRICS_TYPES) === "application/json";
}

export type HttpApp = ReturnType<typeof createHttpApp>;
