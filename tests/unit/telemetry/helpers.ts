import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { Metrics } from "../../../src/telemetry/metrics.ts";
import { flushTracing, initTracing, shutdownTracing } from "../../../src/telemetry/tracing.ts";

/** Tracing on (an endpoint is set) but exporting into memory; every test gets fresh metrics. */
export async function tracingToMemory(roles: readonly string[] = ["task-service"], env: Record<string, string> = {}) {
  const exporter = new InMemorySpanExporter();
  const metrics = new Metrics();
  await initTracing({ roles, version: "9.9.9", env: { OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9", ...env }, exporter, metrics });
  return {
    exporter,
    metrics,
    /** Every finished span so far, after a flush. */
    async spans(): Promise<ReadableSpan[]> {
      await flushTracing();
      return exporter.getFinishedSpans();
    },
    stop: shutdownTracing,
  };
}

export const byName = (spans: readonly ReadableSpan[], name: string): ReadableSpan => {
  const hit = spans.find((s) => s.name === name);
  if (!hit) throw new Error(`no span named ${name}; have: ${spans.map((s) => s.name).join(", ")}`);
  return hit;
};

export const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

/** Captures what the logger writes to stdout while `fn` runs. */
export async function captureStdout(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = original;
  }
  return lines.join("").split("\n").filter(Boolean);
}
