import { context, SpanKind, trace } from "@opentelemetry/api";
import { ATTR_DB_COLLECTION_NAME, ATTR_DB_NAMESPACE, ATTR_DB_OPERATION_NAME, ATTR_DB_SYSTEM, ATTR_DB_SYSTEM_NAME } from "./semconv.ts";
import { tracingEnabled, withSpan } from "./tracing.ts";

export type DbSystem = "sqlite" | "postgresql";

export interface StorageSpanTarget {
  system: DbSystem;
  /** Database (file name for SQLite, database name for PostgreSQL). */
  namespace?: string;
}

/**
 * Runs one storage operation (sync for bun:sqlite, async for Bun.sql) in a CLIENT span
 * named `OPERATION collection`, with db.* attributes. Only inside a traced request or
 * job: storage work with no recording parent (migrations, polling) makes no root spans.
 * Off: `fn()` as is.
 */
export function withStorageSpan<T>(db: StorageSpanTarget, operation: string, collection: string | undefined, fn: () => T): T {
  if (!tracingEnabled) return fn();
  const parent = trace.getSpan(context.active());
  if (!parent?.isRecording()) return fn();
  return withSpan(
    collection ? `${operation} ${collection}` : operation,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        [ATTR_DB_SYSTEM_NAME]: db.system,
        [ATTR_DB_SYSTEM]: db.system,
        [ATTR_DB_OPERATION_NAME]: operation,
        ...(collection ? { [ATTR_DB_COLLECTION_NAME]: collection } : {}),
        ...(db.namespace ? { [ATTR_DB_NAMESPACE]: db.namespace } : {}),
      },
    },
    () => fn(),
  );
}
