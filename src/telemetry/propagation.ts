import { ROOT_CONTEXT, trace, type Context, type Link, type SpanContext, type TextMapGetter, type TextMapSetter } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { Metadata } from "@grpc/grpc-js";

/** W3C Trace Context (traceparent + tracestate) is the only format bpm speaks, in and out. */
const w3c = new W3CTraceContextPropagator();

export const TRACEPARENT = "traceparent";
export const TRACESTATE = "tracestate";

/** Plain header records as Node's http and fetch init use them. */
export type HeaderRecord = Record<string, string | string[] | undefined>;
export type Carrier = Headers | Metadata | HeaderRecord;

const isHeaders = (c: Carrier): c is Headers => c instanceof Headers;
// duck-typed so propagation does not load grpc-js where only HTTP is used
const isMetadata = (c: Carrier): c is Metadata => typeof (c as Metadata).getMap === "function" && typeof (c as Metadata).add === "function";

const getter: TextMapGetter<Carrier> = {
  get(carrier, key) {
    if (isHeaders(carrier)) return carrier.get(key) ?? undefined;
    if (isMetadata(carrier)) {
      const values = carrier.get(key);
      return values.length === 0 ? undefined : values.map(String);
    }
    const hit = carrier[key] ?? carrier[Object.keys(carrier).find((k) => k.toLowerCase() === key) ?? ""];
    return hit;
  },
  keys(carrier) {
    if (isHeaders(carrier)) return [...carrier.keys()];
    if (isMetadata(carrier)) return Object.keys(carrier.getMap());
    return Object.keys(carrier);
  },
};

const setter: TextMapSetter<Carrier> = {
  set(carrier, key, value) {
    if (isHeaders(carrier)) carrier.set(key, value);
    else if (isMetadata(carrier)) carrier.set(key, value);
    else carrier[key] = value;
  },
};

/** Sets one header / metadata key on any carrier kind. */
export function setHeader(carrier: Carrier, key: string, value: string): void {
  setter.set(carrier, key, value);
}

/** The remote parent a request or call carries (ROOT_CONTEXT-based when it carries none or a malformed one). */
export function extractContext(carrier: Carrier, base: Context = ROOT_CONTEXT): Context {
  const header = getter.get(carrier, TRACEPARENT);
  if (header === undefined) return base;
  const traceparent = Array.isArray(header) ? header[0] : header;
  // the usual header (version 00, no tracestate) without the propagator's regex; anything else goes the library's way
  if (typeof traceparent === "string" && getter.get(carrier, TRACESTATE) === undefined) {
    const sc = parseVersion00(traceparent);
    if (sc) return trace.setSpanContext(base, sc);
  }
  return w3c.extract(base, carrier, getter);
}

/** A well-formed version-00 traceparent (as parseVersion00 takes it) whose sampled flag is off. */
export function isSampledOutTraceparent(tp: string): boolean {
  if (!isVersion00(tp)) return false;
  const low = tp.charCodeAt(54);
  // the flags' low hex digit: even means the sampled bit is clear
  return ((low <= 57 ? low - 48 : low - 87) & 1) === 0;
}

/**
 * A remote span context from an exact `00-<32 hex>-<16 hex>-<2 hex>` traceparent (lowercase, ids
 * not all zero), as the W3C propagator would parse it; undefined for anything else, which
 * the caller leaves to the propagator (other versions, whitespace, malformed values).
 */
function parseVersion00(tp: string): SpanContext | undefined {
  if (!isVersion00(tp)) return undefined;
  return { traceId: tp.slice(3, 35), spanId: tp.slice(36, 52), traceFlags: parseInt(tp.slice(53, 55), 16), isRemote: true };
}

function isVersion00(tp: string): boolean {
  if (tp.length !== 55 || tp.charCodeAt(0) !== 48 || tp.charCodeAt(1) !== 48 || tp.charCodeAt(2) !== 45 || tp.charCodeAt(35) !== 45 || tp.charCodeAt(52) !== 45) return false;
  let traceNonZero = false;
  let spanNonZero = false;
  for (let i = 3; i < 55; i++) {
    if (i === 35 || i === 52) continue;
    const c = tp.charCodeAt(i);
    const digit = c >= 48 && c <= 57;
    if (!digit && !(c >= 97 && c <= 102)) return false;
    if (c !== 48) {
      if (i < 35) traceNonZero = true;
      else if (i < 52) spanNonZero = true;
    }
  }
  return traceNonZero && spanNonZero;
}

/** Writes traceparent/tracestate of `ctx`'s span; nothing when it has no valid span. */
export function injectContext(ctx: Context, carrier: Carrier): void {
  w3c.inject(ctx, carrier, setter);
}

/** `00-<trace id>-<span id>-<flags>` of a span context. */
export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${FLAGS_HEX[sc.traceFlags & 0xff]!}`;
}

/** Trace flags as their two hex digits, made once rather than per outgoing request. */
const FLAGS_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** The span context a traceparent string names, or undefined when it is malformed. */
export function parseTraceparent(traceparent: string, tracestate?: string): SpanContext | undefined {
  const ctx = extractContext(tracestate ? { traceparent, tracestate } : { traceparent });
  return trace.getSpanContext(ctx);
}

/** A span link to the work a stored traceparent came from (e.g. the request that wrote an outbox record). */
export function linkFromTraceparent(traceparent: string | undefined, attributes?: Link["attributes"]): Link | undefined {
  if (!traceparent) return undefined;
  const sc = parseTraceparent(traceparent);
  return sc ? { context: sc, attributes } : undefined;
}
