import { UsageError } from "../config/loader.ts";

/** The OTEL_TRACES_SAMPLER values bpm understands (the spec's built-in ones). */
export type SamplerName = "always_on" | "always_off" | "traceidratio" | "parentbased_always_on" | "parentbased_always_off" | "parentbased_traceidratio";
const SAMPLERS: readonly SamplerName[] = ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"];

export interface SamplerConfig {
  name: SamplerName;
  /** Only meaningful for the ratio samplers; 1 otherwise. */
  ratio: number;
}

export interface BatchConfig {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
}

/** The SDK's span limits (OTEL_SPAN_*_LIMIT, falling back to OTEL_ATTRIBUTE_*_LIMIT), defaults as the SDK's. */
export interface SpanLimitsConfig {
  attributeCountLimit: number;
  attributeValueLengthLimit: number;
  eventCountLimit: number;
  linkCountLimit: number;
  attributePerEventCountLimit: number;
  attributePerLinkCountLimit: number;
}

export type TracingConfig =
  | { enabled: false; reason: string }
  | {
      enabled: true;
      /** Full URL spans are POSTed to (…/v1/traces). */
      tracesUrl: string;
      /** OTLP/HTTP encoding: protobuf (the spec's default, and far cheaper for the collector to decode) or JSON. */
      protocol: "http/protobuf" | "http/json";
      sampler: SamplerConfig;
      batch: BatchConfig;
      spanLimits: SpanLimitsConfig;
      /** OTEL_SERVICE_NAME: replaces the role as service.name when set. */
      serviceName?: string;
      /** OTEL_RESOURCE_ATTRIBUTES, parsed. */
      resourceAttributes: Record<string, string>;
    };

type Env = Readonly<Record<string, string | undefined>>;

const value = (env: Env, key: string): string | undefined => {
  const v = env[key]?.trim();
  return v ? v : undefined;
};

/**
 * Reads the standard OTEL_* variables. Tracing is on only when an OTLP endpoint is
 * given; a value bpm cannot honour exits with a usage error naming the variable
 * (a mistyped sampler ratio must not silently become 100% sampling).
 */
export function tracingConfigFromEnv(env: Env): TracingConfig {
  if (value(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true") return { enabled: false, reason: "OTEL_SDK_DISABLED=true" };
  const exporter = value(env, "OTEL_TRACES_EXPORTER")?.toLowerCase();
  if (exporter === "none") return { enabled: false, reason: "OTEL_TRACES_EXPORTER=none" };
  if (exporter !== undefined && exporter !== "otlp") throw new UsageError(`OTEL_TRACES_EXPORTER: expected otlp or none, got "${exporter}"`);

  const tracesUrl = tracesEndpoint(env);
  if (!tracesUrl) return { enabled: false, reason: "no OTEL_EXPORTER_OTLP_ENDPOINT" };

  const protocolKey = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL !== undefined ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const protocol = value(env, protocolKey);
  if (protocol !== undefined && protocol !== "http/json" && protocol !== "http/protobuf") {
    throw new UsageError(`${protocolKey}: bpm exports over OTLP/HTTP (http/json or http/protobuf), got "${protocol}"`);
  }

  return {
    enabled: true,
    tracesUrl,
    protocol: protocol === "http/json" ? "http/json" : "http/protobuf",
    sampler: samplerConfigFromEnv(env),
    batch: batchConfigFromEnv(env),
    spanLimits: spanLimitsFromEnv(env),
    serviceName: value(env, "OTEL_SERVICE_NAME"),
    resourceAttributes: parseResourceAttributes(value(env, "OTEL_RESOURCE_ATTRIBUTES")),
  };
}

function tracesEndpoint(env: Env): string | undefined {
  const specific = value(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (specific) return checkUrl("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", specific);
  const base = value(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  if (!base) return undefined;
  checkUrl("OTEL_EXPORTER_OTLP_ENDPOINT", base);
  // the spec: a signal path is appended to the base endpoint, the per-signal one is used as-is
  return `${base.replace(/\/+$/, "")}/v1/traces`;
}

function checkUrl(key: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${key}: expected an http(s) URL such as http://127.0.0.1:4318, got "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`${key}: expected an http(s) URL, got "${raw}"`);
  return raw;
}

export function samplerConfigFromEnv(env: Env): SamplerConfig {
  const raw = value(env, "OTEL_TRACES_SAMPLER")?.toLowerCase() ?? "parentbased_always_on";
  if (!(SAMPLERS as readonly string[]).includes(raw)) throw new UsageError(`OTEL_TRACES_SAMPLER: expected one of ${SAMPLERS.join(", ")}, got "${raw}"`);
  const name = raw as SamplerName;
  const arg = value(env, "OTEL_TRACES_SAMPLER_ARG");
  if (!name.endsWith("traceidratio") || arg === undefined) return { name, ratio: 1 };
  const ratio = Number(arg);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw new UsageError(`OTEL_TRACES_SAMPLER_ARG: expected a ratio between 0 and 1, got "${arg}"`);
  return { name, ratio };
}

function positiveInt(env: Env, key: string, fallback: number): number {
  const raw = value(env, key);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${key}: expected a positive integer, got "${raw}"`);
  return n;
}

/** The spec's OTEL_BSP_* knobs; the queue bound is what keeps a dead collector from costing memory. */
export function batchConfigFromEnv(env: Env): BatchConfig {
  const maxQueueSize = positiveInt(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048);
  return {
    maxQueueSize,
    maxExportBatchSize: Math.min(maxQueueSize, positiveInt(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)),
    scheduledDelayMillis: positiveInt(env, "OTEL_BSP_SCHEDULE_DELAY", 5_000),
    exportTimeoutMillis: positiveInt(env, "OTEL_BSP_EXPORT_TIMEOUT", 10_000),
  };
}

function nonNegativeInt(env: Env, key: string): number | undefined {
  const raw = value(env, key);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${key}: expected a non-negative integer, got "${raw}"`);
  return n;
}

/** The span limits the SDK's BasicTracerProvider reads from the environment, with its defaults (128 of each, values untruncated). */
export function spanLimitsFromEnv(env: Env): SpanLimitsConfig {
  return {
    attributeCountLimit: nonNegativeInt(env, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT") ?? nonNegativeInt(env, "OTEL_ATTRIBUTE_COUNT_LIMIT") ?? 128,
    attributeValueLengthLimit: nonNegativeInt(env, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT") ?? nonNegativeInt(env, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT") ?? Infinity,
    eventCountLimit: nonNegativeInt(env, "OTEL_SPAN_EVENT_COUNT_LIMIT") ?? 128,
    linkCountLimit: nonNegativeInt(env, "OTEL_SPAN_LINK_COUNT_LIMIT") ?? 128,
    attributePerEventCountLimit: nonNegativeInt(env, "OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT") ?? 128,
    attributePerLinkCountLimit: nonNegativeInt(env, "OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT") ?? 128,
  };
}

/** `key1=value1,key2=value2`, values percent-encoded (W3C Baggage octets), as the spec defines it. */
export function parseResourceAttributes(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const pair of raw.split(",")) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`OTEL_RESOURCE_ATTRIBUTES: expected key=value pairs separated by commas, got "${pair.trim()}"`);
    const key = pair.slice(0, eq).trim();
    let val = pair.slice(eq + 1).trim();
    try {
      val = decodeURIComponent(val);
    } catch {
      throw new UsageError(`OTEL_RESOURCE_ATTRIBUTES: bad percent-encoding in the value of ${key}`);
    }
    out[key] = val;
  }
  return out;
}
