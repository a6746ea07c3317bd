import { basename } from "node:path";
import { context, SpanKind, trace, type Context, type Span } from "@opentelemetry/api";
import { ATTR_DB_COLLECTION_NAME, ATTR_DB_NAMESPACE, ATTR_DB_OPERATION_NAME, ATTR_DB_SYSTEM, ATTR_DB_SYSTEM_NAME } from "./semconv.ts";
import { endSpan, runInSpan, runUntilSettled, startSpan, tracingEnabled, withSpan } from "./tracing.ts";

export type DbSystem = "sqlite" | "postgresql";

export interface StorageSpanTarget {
  system: DbSystem;
  /** Database (file name for SQLite, database name for PostgreSQL). */
  namespace?: string;
}

/** The span target of a SQLite file: its file name (not the whole path) as db.namespace. */
export function sqliteTarget(path: string): StorageSpanTarget {
  return { system: "sqlite", namespace: basename(path) };
}

/** The span target of a postgres:// URL: the database name as db.namespace (never host, user or password). */
export function postgresTarget(url: string): StorageSpanTarget {
  let database: string | undefined;
  try {
    database = decodeURIComponent(new URL(url).pathname.replace(/^\/+/, "")) || undefined;
  } catch {
    database = undefined;
  }
  return database ? { system: "postgresql", namespace: database } : { system: "postgresql" };
}

function dbAttributes(db: StorageSpanTarget, operation: string, collection: string | undefined) {
  const attributes: Record<string, string> = { [ATTR_DB_SYSTEM_NAME]: db.system, [ATTR_DB_SYSTEM]: db.system, [ATTR_DB_OPERATION_NAME]: operation };
  if (collection) attributes[ATTR_DB_COLLECTION_NAME] = collection;
  if (db.namespace) attributes[ATTR_DB_NAMESPACE] = db.namespace;
  return attributes;
}

/** The recording span storage work would hang under, if any: storage never starts a trace of its own. */
function recordingParent(): Context | undefined {
  const ctx = context.active();
  return trace.getSpan(ctx)?.isRecording() ? ctx : undefined;
}

/**
 * Runs one storage operation (sync for bun:sqlite, async for Bun.sql) in a CLIENT span
 * named `OPERATION collection`, with db.* attributes (never the statement's parameters).
 * Only inside a traced request or job: storage work with no recording parent (migrations,
 * polling, scrapes) makes no root spans. Off: `fn()` as is.
 */
export function withStorageSpan<T>(db: StorageSpanTarget, operation: string, collection: string | undefined, fn: () => T): T {
  if (!tracingEnabled) return fn();
  const parent = recordingParent();
  if (!parent) return fn();
  return withSpan(collection ? `${operation} ${collection}` : operation, { parent, kind: SpanKind.CLIENT, attributes: dbAttributes(db, operation, collection) }, () => fn());
}

/** What one store method does, for its span: the SQL operation it is about and the table it touches. */
export type StoreOperation = readonly [operation: string, collection: string];

/** The store methods to trace, each with its operation; methods left out (ping, close) get no span. */
export type StoreSpans<S> = { readonly [K in keyof S]?: S[K] extends (...args: never[]) => unknown ? StoreOperation : never };

/**
 * Gives every method of `store` named in `spans` a storage span (one per call: a transaction
 * of several statements is one span, not one per statement). Methods returning an async
 * iterable (a streamed listing) get a span from the first page to the last. With tracing off
 * the store comes back untouched, so its calls cost nothing at all.
 */
export function traceStore<S extends object>(store: S, db: StorageSpanTarget, spans: StoreSpans<S>): S {
  if (!tracingEnabled) return store;
  for (const [method, op] of Object.entries(spans) as [string, StoreOperation][]) {
    const original = (store as Record<string, unknown>)[method];
    if (typeof original !== "function") throw new Error(`traceStore: ${method} is not a method of the store`);
    const [operation, collection] = op;
    // name and attributes are fixed per method: built once here (the SDK copies attributes into each span)
    const name = `${operation} ${collection}`;
    const attributes = Object.freeze(dbAttributes(db, operation, collection));
    const traced = (...args: unknown[]): unknown => {
      if (!tracingEnabled) return original.apply(store, args);
      const parent = recordingParent();
      if (!parent) return original.apply(store, args);
      const span = startSpan(name, { parent, kind: SpanKind.CLIENT, attributes });
      return runUntilSettled(span, parent, () => original.apply(store, args), (result) => (isAsyncIterable(result) ? tracedIterable(result, span, parent) : undefined));
    };
    // an own property shadows the class's method: `this` inside stays the store itself
    Object.defineProperty(store, method, { value: traced, configurable: true, writable: true });
  }
  return store;
}

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return typeof x === "object" && x !== null && typeof (x as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function";
}

/** Every page of a streamed listing runs in `span`; the span ends when the stream does (done, thrown or abandoned). */
function tracedIterable<T>(source: AsyncIterable<T>, span: Span, parent: Context): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const it = source[Symbol.asyncIterator]();
      let ended = false;
      const end = (err?: unknown) => {
        if (ended) return;
        ended = true;
        endSpan(span, err);
      };
      const step = async (call: () => Promise<IteratorResult<T>>): Promise<IteratorResult<T>> => {
        try {
          const r = await runInSpan(span, call, parent);
          if (r.done) end();
          return r;
        } catch (err) {
          end(err);
          throw err;
        }
      };
      return {
        next: () => step(() => it.next()),
        return: (value?: unknown) => step(async () => (it.return ? it.return(value) : { done: true, value: value as T })).finally(() => end()),
        throw: (err?: unknown) => step(async () => (it.throw ? it.throw(err) : Promise.reject(err))),
      };
    },
  };
}
