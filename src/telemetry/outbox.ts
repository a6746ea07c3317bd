import { SpanKind, trace, type Span } from "@opentelemetry/api";
import { type Metrics, type OutboxStats } from "./metrics.ts";
import { extractContext } from "./propagation.ts";
import { currentTraceparent, withSpan } from "./tracing.ts";

/** Backlog and age of a role's outbox on every scrape (bpm_outbox_pending_records, bpm_outbox_oldest_pending_age_seconds). */
export function observeOutbox(role: string, stats: () => OutboxStats | Promise<OutboxStats>, metrics: Metrics): void {
  metrics.watchOutbox(role, stats);
}

/** One dispatch attempt of an outbox record. */
export function recordOutboxDispatch(role: string, outcome: "delivered" | "failed", metrics: Metrics): void {
  metrics.outboxDispatched.labels(role, outcome).inc();
}

/** What to store beside an outbox record when it is written (undefined while tracing is off or outside a trace). */
export const outboxTraceparent = currentTraceparent;

export interface OutboxRecordRef {
  id: string | number;
  /** Event type or topic, for the span name. */
  type: string;
  /** The traceparent stored when the record was written. */
  traceparent?: string | null;
}

/**
 * Runs the dispatch of one record in a span (`outbox dispatch TYPE`) that continues the
 * trace of the request that wrote it: the request's trace then shows where its effects
 * went (task-service and all), however much later they were delivered; each attempt is
 * its own span. A record stored without a traceparent gets a trace of its own. Off: `fn()`.
 */
export function withOutboxDispatchSpan<T>(role: string, record: OutboxRecordRef, fn: (span: Span) => Promise<T>): Promise<T> {
  const writer = record.traceparent ? extractContext({ traceparent: record.traceparent }) : undefined;
  const hasWriter = writer !== undefined && trace.getSpanContext(writer) !== undefined;
  return withSpan(
    `outbox dispatch ${record.type}`,
    {
      role,
      ...(hasWriter ? { parent: writer } : { root: true }),
      kind: SpanKind.PRODUCER,
      attributes: { "messaging.operation.type": "send", "messaging.message.id": String(record.id), "bpm.outbox.type": record.type },
    },
    fn,
  );
}
