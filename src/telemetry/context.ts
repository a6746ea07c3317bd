import { AsyncLocalStorage } from "node:async_hooks";
import { createContextKey, ROOT_CONTEXT, type Context, type ContextManager, type Span } from "@opentelemetry/api";

/**
 * OpenTelemetry's ContextManager over AsyncLocalStorage (what
 * @opentelemetry/context-async-hooks does, without its EventEmitter patching,
 * which bpm does not need): the active context follows awaits, timers and callbacks.
 */
export class AsyncLocalStorageContextManager implements ContextManager {
  private storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const cb = thisArg === undefined ? fn : fn.bind(thisArg);
    return this.storage.run(ctx, cb, ...args);
  }

  /** `with` for the common case (no `this`, no arguments): the span helpers' hot path. */
  run<T>(ctx: Context, fn: () => T): T {
    return this.storage.run(ctx, fn);
  }

  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== "function") return target;
    const manager = this;
    const fn = target as unknown as (...args: unknown[]) => unknown;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(ctx, () => fn.apply(this, args));
    } as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    // a disabled AsyncLocalStorage cannot be re-armed for new runs in every runtime; start afresh
    this.storage = new AsyncLocalStorage<Context>();
    return this;
  }
}

/** The key trace.setSpan/getSpan use (the API makes context keys with Symbol.for). */
const SPAN_KEY = createContextKey("OpenTelemetry Context Key SPAN");

/**
 * `trace.setSpan(parent, span)` without its cost: the API's context copies the parent's Map
 * and makes three closures per call, once per span made active; this is one small object
 * that answers the span key itself and asks its parent for anything else.
 */
export class SpanFrame implements Context {
  constructor(
    private readonly parent: Context,
    private readonly span: Span,
  ) {}

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this.span : this.parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return key === SPAN_KEY ? new SpanFrame(this.parent, value as Span) : new SpanFrame(this.parent.setValue(key, value), this.span);
  }

  deleteValue(key: symbol): Context {
    // the parent may hold a span too (a remote one): deleting the key must hide it as well
    return key === SPAN_KEY ? this.parent.deleteValue(key) : new SpanFrame(this.parent.deleteValue(key), this.span);
  }
}
