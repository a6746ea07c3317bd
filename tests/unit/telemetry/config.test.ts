import { describe, expect, test } from "bun:test";
import { ROOT_CONTEXT, trace, TraceFlags, SpanKind } from "@opentelemetry/api";
import { SamplingDecision } from "@opentelemetry/sdk-trace-base";
import { UsageError } from "../../../src/config/loader.ts";
import { parseResourceAttributes, samplerConfigFromEnv, tracingConfigFromEnv } from "../../../src/telemetry/config.ts";
import { buildSampler } from "../../../src/telemetry/sdk.ts";

const TRACE_ID_LOW = "00000000000000000000000000000001"; // below any ratio's bound
const TRACE_ID_HIGH = "ffffffff000000000000000000000000"; // its 32-bit chunks XOR to 0xffffffff: above any ratio < 1

function decide(samplerEnv: Record<string, string>, traceId: string, parentSampled?: boolean) {
  const sampler = buildSampler(samplerConfigFromEnv(samplerEnv));
  const ctx =
    parentSampled === undefined
      ? ROOT_CONTEXT
      : trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: "00f067aa0ba902b7", traceFlags: parentSampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true });
  return sampler.shouldSample(ctx, traceId, "op", SpanKind.SERVER, {}, []).decision;
}

describe("tracing is switched on by an OTLP endpoint only", () => {
  test("no endpoint: off", () => {
    expect(tracingConfigFromEnv({})).toEqual({ enabled: false, reason: "no OTEL_EXPORTER_OTLP_ENDPOINT" });
  });

  test("the base endpoint gets /v1/traces appended; the traces endpoint is used as given", () => {
    const base = tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318/" });
    expect(base.enabled && base.tracesUrl).toBe("http://127.0.0.1:4318/v1/traces");
    const specific = tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:9999/custom" });
    expect(specific.enabled && specific.tracesUrl).toBe("http://b:9999/custom");
  });

  test("protobuf by default (the spec's default for OTLP/HTTP); http/json when asked, the traces-specific variable first", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" };
    const protocol = (env: Record<string, string>) => {
      const c = tracingConfigFromEnv({ ...endpoint, ...env });
      return c.enabled ? c.protocol : undefined;
    };
    expect(protocol({})).toBe("http/protobuf");
    expect(protocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })).toBe("http/json");
    expect(protocol({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf" })).toBe("http/protobuf");
  });

  test("OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn it off even with an endpoint", () => {
    expect(tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_SDK_DISABLED: "true" }).enabled).toBe(false);
    expect(tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_TRACES_EXPORTER: "none" }).enabled).toBe(false);
  });

  test("values bpm cannot honour are usage errors naming the variable", () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: "127.0.0.1:4318" }, "OTEL_EXPORTER_OTLP_ENDPOINT"],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, "OTEL_EXPORTER_OTLP_PROTOCOL"],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_TRACES_EXPORTER: "zipkin" }, "OTEL_TRACES_EXPORTER"],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_TRACES_SAMPLER: "jaeger_remote" }, "OTEL_TRACES_SAMPLER"],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "1.5" }, "OTEL_TRACES_SAMPLER_ARG"],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "ten" }, "OTEL_TRACES_SAMPLER_ARG"],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_BSP_MAX_QUEUE_SIZE: "0" }, "OTEL_BSP_MAX_QUEUE_SIZE"],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_RESOURCE_ATTRIBUTES: "novalue" }, "OTEL_RESOURCE_ATTRIBUTES"],
    ];
    for (const [env, variable] of cases) {
      expect(() => tracingConfigFromEnv(env)).toThrow(UsageError);
      expect(() => tracingConfigFromEnv(env)).toThrow(variable);
    }
  });

  test("batch defaults follow the spec, and the export batch never exceeds the queue", () => {
    const cfg = tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_BSP_MAX_QUEUE_SIZE: "100" });
    expect(cfg.enabled && cfg.batch).toEqual({ maxQueueSize: 100, maxExportBatchSize: 100, scheduledDelayMillis: 5000, exportTimeoutMillis: 10000 });
  });

  test("OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are read (percent-decoded)", () => {
    const cfg = tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_SERVICE_NAME: "orders", OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod,team=bpm%20core" });
    expect(cfg.enabled && cfg.serviceName).toBe("orders");
    expect(parseResourceAttributes("deployment.environment=prod,team=bpm%20core")).toEqual({ "deployment.environment": "prod", team: "bpm core" });
  });
});

describe("sampling from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG", () => {
  test("default is parent-based always-on: new traces sampled, an unsampled caller's choice respected", () => {
    expect(samplerConfigFromEnv({})).toEqual({ name: "parentbased_always_on", ratio: 1 });
    expect(decide({}, TRACE_ID_HIGH)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide({}, TRACE_ID_HIGH, false)).toBe(SamplingDecision.NOT_RECORD);
  });

  test("parent-based ratio: roots sampled by trace id against the ratio, children follow their parent", () => {
    const env = { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25" };
    expect(samplerConfigFromEnv(env)).toEqual({ name: "parentbased_traceidratio", ratio: 0.25 });
    expect(decide(env, TRACE_ID_LOW)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(env, TRACE_ID_HIGH)).toBe(SamplingDecision.NOT_RECORD);
    // a sampled caller keeps the trace whole whatever our ratio says
    expect(decide(env, TRACE_ID_HIGH, true)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(env, TRACE_ID_LOW, false)).toBe(SamplingDecision.NOT_RECORD);
  });

  test("ratio 0 samples no new trace; always_off nothing at all", () => {
    expect(decide({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" }, TRACE_ID_LOW)).toBe(SamplingDecision.NOT_RECORD);
    expect(decide({ OTEL_TRACES_SAMPLER: "always_off" }, TRACE_ID_LOW, true)).toBe(SamplingDecision.NOT_RECORD);
  });

  test("a plain ratio ignores the parent's decision", () => {
    const env = { OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.5" };
    expect(decide(env, TRACE_ID_LOW, false)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(env, TRACE_ID_HIGH, true)).toBe(SamplingDecision.NOT_RECORD);
  });
});
