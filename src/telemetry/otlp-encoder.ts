import type { Attributes, AttributeValue, HrTime, SpanContext } from "@opentelemetry/api";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-base";
import { LeanSpan } from "./span.ts";

/**
 * OTLP ExportTraceServiceRequest (protobuf) straight from SDK spans, byte for byte what
 * @opentelemetry/otlp-transformer's ProtobufTraceSerializer writes, at a fraction of its
 * cost: one pass instead of a size estimate and a write, and the parts that repeat from span
 * to span (resource, scope, attribute keys, and low-cardinality key/value pairs such as
 * `http.request.method=GET`) encoded once and copied. Spans are encoded one by one as they
 * end (append) and a request is made of what was appended (take); encode() does both.
 */
export class OtlpTraceEncoder {
  /** Where cached pieces are encoded; spans go to their group's buffer, a request to its own. */
  private buf: Uint8Array = new Uint8Array(1 << 12);
  private view: DataView = new DataView(this.buf.buffer);
  private pos = 0;
  /**
   * Encoded KeyValue messages (tag excluded) by key and value; bounded, so ids and paths do not
   * grow it. A key seen with more than `maxValuesPerKey` values (a correlation id, a path with
   * an id) keeps only its encoded key (KeyValue.key with its tag): its values are written directly,
   * not hashed and looked up in vain.
   */
  private readonly pairs = new Map<string, Map<string | number | boolean, Uint8Array> | Uint8Array>();
  private pairCount = 0;
  /** Encoded Resource and InstrumentationScope messages, per object (a tracer's are shared by all its spans). */
  private readonly resources = new WeakMap<object, Uint8Array>();
  private readonly scopes = new WeakMap<object, Uint8Array>();
  private readonly utf8 = new TextEncoder();
  /** Encoded spans waiting for take(), one buffer per resource and scope (kept from batch to batch). */
  private readonly groups = new WeakMap<object, Map<object, SpanGroup>>();
  /** The groups with spans since the last take(), in the order they got their first. */
  private order: SpanGroup[] = [];
  private last: SpanGroup | undefined;
  private pendingSpans = 0;
  /** The millisecond msPlusNs wrote last, as nanoseconds in two 32-bit words. */
  private lastMs = -1;
  private lastMsLow = 0;
  private lastMsHigh = 0;

  constructor(
    private readonly maxCachedPairs = 4_096,
    private readonly maxValuesPerKey = 64,
  ) {}

  /** The request for `spans` (none appended and not yet taken), as bytes the caller may keep. */
  encode(spans: readonly ReadableSpan[]): Uint8Array {
    if (this.pendingSpans > 0) throw new Error("OtlpTraceEncoder.encode: appended spans are waiting for take()");
    for (const span of spans) this.append(span);
    return this.take();
  }

  /** Spans appended since the last take(). */
  get pending(): number {
    return this.pendingSpans;
  }

  /**
   * Encodes one span now, into its resource and scope's part of the next request: a span can be
   * dropped as soon as it ends instead of waiting in a queue for the batch (and the GC) as an object.
   */
  append(span: ReadableSpan): void {
    let group = this.last;
    if (group === undefined || group.resource !== span.resource || group.scope !== span.instrumentationScope) group = this.last = this.groupOf(span);
    const { buf, view, pos } = this;
    this.buf = group.buf;
    this.view = group.view;
    this.pos = group.pos;
    try {
      this.tag(2, 2);
      this.span(span);
      // a span that fails half-way leaves nothing behind: the group's end moves only now
      if (group.pos === 0) this.order.push(group);
      group.buf = this.buf;
      group.view = this.view;
      group.pos = this.pos;
      this.pendingSpans++;
    } finally {
      this.buf = buf;
      this.view = view;
      this.pos = pos;
    }
  }

  /**
   * The ExportTraceServiceRequest of every span appended since the last take(), in a buffer of its
   * own (`spare`, a buffer an earlier take() returned and its reader is done with, when it is
   * large enough: a batch buffer is extra memory that paces the GC); grouped by resource, then
   * scope, in the order they first appeared (as the library does).
   */
  take(spare?: Uint8Array): Uint8Array {
    if (this.order.length === 0) return new Uint8Array(0);
    const byResource = new Map<object, SpanGroup[]>();
    let size = 0;
    for (const group of this.order) {
      const list = byResource.get(group.resource);
      if (list) list.push(group);
      else byResource.set(group.resource, [group]);
      // tags and length prefixes of both wrappers, the cached resource and scope, schema URLs at 3 bytes a char
      size += group.pos + 32 + this.resourceOf(group.resource).length + this.scopeOf(group.scope).length + 3 * ((group.scope.schemaUrl?.length ?? 0) + (schemaUrlOf(group.resource)?.length ?? 0));
    }
    const { buf, view } = this;
    // written straight into the buffer handed out: no copy of the batch
    this.buf = spare !== undefined && spare.length >= size ? spare : new Uint8Array(roundUp(size, BATCH_BUFFER_STEP));
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
    for (const [resource, groups] of byResource) {
      this.tag(1, 2);
      // a batch is usually 16 KiB to 2 MiB: three length bytes, so the batch is not moved to widen them
      const rs = this.begin(3);
      this.tag(1, 2);
      this.raw(this.resourceOf(resource));
      for (const group of groups) {
        this.tag(2, 2);
        const ss = this.begin(3);
        this.tag(1, 2);
        this.raw(this.scopeOf(group.scope));
        this.raw(group.pos === group.buf.length ? group.buf : group.buf.subarray(0, group.pos));
        if (group.scope.schemaUrl) {
          this.tag(3, 2);
          this.string(group.scope.schemaUrl);
        }
        this.end(ss);
        group.pos = 0;
      }
      const schemaUrl = schemaUrlOf(resource);
      if (schemaUrl) {
        this.tag(3, 2);
        this.string(schemaUrl);
      }
      this.end(rs);
    }
    const out = this.buf.subarray(0, this.pos);
    this.buf = buf;
    this.view = view;
    this.pos = 0;
    this.order = [];
    this.pendingSpans = 0;
    return out;
  }

  private groupOf(span: ReadableSpan): SpanGroup {
    let scopes = this.groups.get(span.resource);
    if (!scopes) this.groups.set(span.resource, (scopes = new Map()));
    let group = scopes.get(span.instrumentationScope);
    if (!group) {
      const buf = new Uint8Array(1 << 12);
      group = { resource: span.resource, scope: span.instrumentationScope, buf, view: new DataView(buf.buffer), pos: 0 };
      scopes.set(span.instrumentationScope, group);
    }
    return group;
  }

  private resourceOf(resource: object): Uint8Array {
    return this.cached(this.resources, resource, () => this.resourceBytes(resource as ReadableSpan["resource"]));
  }

  private scopeOf(scope: ReadableSpan["instrumentationScope"]): Uint8Array {
    return this.cached(this.scopes, scope, () => this.scopeBytes(scope));
  }

  private span(span: ReadableSpan): void {
    // a span message is 128 bytes to 16 KiB long: two length bytes reserved, so end() seldom moves it
    const start = this.begin(2);
    const ctx = span.spanContext();
    this.tag(1, 2);
    this.hexBytes(ctx.traceId);
    this.tag(2, 2);
    this.hexBytes(ctx.spanId);
    const traceState = ctx.traceState?.serialize();
    if (traceState) {
      this.tag(3, 2);
      this.string(traceState);
    }
    const parent = span.parentSpanContext;
    if (parent?.spanId) {
      this.tag(4, 2);
      this.hexBytes(parent.spanId);
    }
    this.tag(5, 2);
    // written each time: a span name is mostly a fresh string (METHOD + route), and hashing it for a cache costs more
    this.string(span.name);
    const kind = span.kind == null ? 0 : span.kind + 1;
    if (kind !== 0) {
      this.tag(6, 0);
      this.varint(kind);
    }
    if (span instanceof LeanSpan && span.elapsedNs >= 0) {
      // straight from the span's clock readings: no [seconds, nanos] tuples made to be read once
      this.tag(7, 1);
      this.msPlusNs(span.startMs, 0);
      this.tag(8, 1);
      this.msPlusNs(span.startMs, span.elapsedNs);
    } else {
      this.tag(7, 1);
      this.hrTime(span.startTime);
      this.tag(8, 1);
      this.hrTime(span.endTime);
    }
    this.attributes(span.attributes, 9);
    this.tag(10, 0);
    this.varint(span.droppedAttributesCount);
    for (const event of span.events) {
      this.tag(11, 2);
      this.event(event);
    }
    this.tag(12, 0);
    this.varint(span.droppedEventsCount);
    for (const link of span.links) {
      this.tag(13, 2);
      const l = this.begin();
      this.tag(1, 2);
      this.hexBytes(link.context.traceId);
      this.tag(2, 2);
      this.hexBytes(link.context.spanId);
      const linkState = link.context.traceState?.serialize();
      if (linkState) {
        this.tag(3, 2);
        this.string(linkState);
      }
      if (link.attributes) this.attributes(link.attributes, 4);
      this.tag(5, 0);
      this.varint(link.droppedAttributesCount || 0);
      this.tag(6, 5);
      this.fixed32(flagsOf(link.context, link.context.isRemote));
      this.end(l);
    }
    this.tag(14, 0);
    this.varint(span.droppedLinksCount);
    this.tag(15, 2);
    const st = this.begin();
    if (span.status.message) {
      this.tag(2, 2);
      this.string(span.status.message);
    }
    this.tag(3, 0);
    this.varint(span.status.code);
    this.end(st);
    this.tag(16, 5);
    this.fixed32(flagsOf(ctx, parent?.isRemote));
    this.end(start);
  }

  private event(event: TimedEvent): void {
    const start = this.begin();
    this.tag(1, 1);
    this.hrTime(event.time);
    this.tag(2, 2);
    this.string(event.name);
    if (event.attributes) this.attributes(event.attributes, 3);
    this.tag(4, 0);
    this.varint(event.droppedAttributesCount || 0);
    this.end(start);
  }

  private attributes(attributes: Attributes, field: number): void {
    for (const key in attributes) {
      if (!Object.prototype.hasOwnProperty.call(attributes, key)) continue;
      const value = attributes[key];
      this.tag(field, 2);
      const t = typeof value;
      if (t === "string" || t === "number" || t === "boolean") {
        this.pair(key, value as string | number | boolean);
        continue;
      }
      const kv = this.begin();
      this.keyValue(key, value);
      this.end(kv);
    }
  }

  /** A scalar KeyValue, from the cache when it has been seen (and the cache has room). */
  private pair(key: string, value: string | number | boolean): void {
    let values = this.pairs.get(key);
    if (values instanceof Uint8Array) {
      const kv = this.begin();
      this.raw(values);
      this.tag(2, 2);
      const v = this.begin();
      this.anyValue(value);
      this.end(v);
      this.end(kv);
      return;
    }
    const hit = values?.get(value);
    if (hit) {
      this.varint(hit.length);
      this.raw(hit);
      return;
    }
    const kv = this.begin();
    const from = this.pos;
    this.keyValue(key, value);
    if (this.pairCount < this.maxCachedPairs && (typeof value !== "string" || value.length <= 64)) {
      if (!values) this.pairs.set(key, (values = new Map()));
      if (values.size >= this.maxValuesPerKey) {
        // too many values to be worth remembering: give the room back and stop looking this key up
        this.pairCount -= values.size;
        this.pairs.set(key, this.keyBytes(key));
      } else {
        values.set(value, this.buf.slice(from, this.pos));
        this.pairCount++;
      }
    }
    this.end(kv);
  }

  /** KeyValue.key, tag included, encoded on its own. */
  private keyBytes(key: string): Uint8Array {
    const from = this.pos;
    this.tag(1, 2);
    this.string(key);
    const out = this.buf.slice(from, this.pos);
    this.pos = from;
    return out;
  }

  private keyValue(key: string, value: AttributeValue | undefined): void {
    this.tag(1, 2);
    this.string(key);
    this.tag(2, 2);
    const v = this.begin();
    this.anyValue(value);
    this.end(v);
  }

  private anyValue(value: unknown): void {
    const t = typeof value;
    if (t === "string") {
      this.tag(1, 2);
      this.string(value as string);
    } else if (t === "boolean") {
      this.tag(2, 0);
      this.varint(value ? 1 : 0);
    } else if (t === "number") {
      const n = value as number;
      if (Number.isInteger(n) && n >= -(2 ** 63) && n < 2 ** 63) {
        this.tag(3, 0);
        this.varint(n);
      } else {
        this.tag(4, 1);
        this.room(8);
        this.view.setFloat64(this.pos, n, true);
        this.pos += 8;
      }
    } else if (value instanceof Uint8Array) {
      this.tag(7, 2);
      this.varint(value.length);
      this.raw(value);
    } else if (Array.isArray(value)) {
      this.tag(5, 2);
      const arr = this.begin();
      for (const item of value) {
        this.tag(1, 2);
        const it = this.begin();
        this.anyValue(item);
        this.end(it);
      }
      this.end(arr);
    } else if (t === "object" && value !== null) {
      this.tag(6, 2);
      const list = this.begin();
      const obj = value as Record<string, unknown>;
      for (const k in obj) {
        if (!Object.prototype.hasOwnProperty.call(obj, k)) continue;
        this.tag(1, 2);
        const kv = this.begin();
        this.keyValue(k, obj[k] as AttributeValue);
        this.end(kv);
      }
      this.end(list);
    }
  }

  private resourceBytes(resource: ReadableSpan["resource"]): Uint8Array {
    return this.standalone(() => {
      if (resource.attributes) this.attributes(resource.attributes as Attributes, 1);
      this.tag(2, 0);
      this.varint(0);
    });
  }

  private scopeBytes(scope: ReadableSpan["instrumentationScope"]): Uint8Array {
    return this.standalone(() => {
      this.tag(1, 2);
      this.string(scope.name);
      if (scope.version) {
        this.tag(2, 2);
        this.string(scope.version);
      }
      const extra = scope as { attributes?: Attributes; droppedAttributesCount?: number };
      if (extra.attributes) this.attributes(extra.attributes, 3);
      if (extra.droppedAttributesCount) {
        this.tag(4, 0);
        this.varint(extra.droppedAttributesCount);
      }
    });
  }

  /** A length-prefixed message encoded on its own (then cached), without disturbing the batch being written. */
  private standalone(write: () => void): Uint8Array {
    const start = this.pos;
    const mark = this.begin();
    write();
    this.end(mark);
    const out = this.buf.slice(start, this.pos);
    this.pos = start;
    return out;
  }

  private cached<K extends object>(cache: WeakMap<K, Uint8Array>, key: K, make: () => Uint8Array): Uint8Array {
    let bytes = cache.get(key);
    if (!bytes) cache.set(key, (bytes = make()));
    return bytes;
  }

  // ---- the writer

  private room(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /**
   * Reserves `width` length bytes (1 to 3) and returns where; end() moves the message when its
   * length needs another width. The returned mark carries the width: at * 4 + width.
   */
  private begin(width = 1): number {
    this.room(width);
    const at = this.pos;
    this.pos += width;
    return at * 4 + width;
  }

  private end(mark: number): void {
    const reserved = mark & 3;
    const at = mark >>> 2;
    const length = this.pos - at - reserved;
    const size = varintSize(length);
    if (size !== reserved) {
      if (size > reserved) this.room(size - reserved);
      this.buf.copyWithin(at + size, at + reserved, this.pos);
      this.pos += size - reserved;
    }
    let v = length;
    let p = at;
    while (v > 127) {
      this.buf[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buf[p] = v;
  }

  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  private varint(value: number): void {
    this.room(10);
    const buf = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 127) {
        buf[this.pos++] = (v & 127) | 128;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    // 64-bit two's complement, as protobuf writes int64
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / 4294967296) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / 4294967296) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 127) {
      buf[this.pos++] = (low & 127) | 128;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low & 127;
  }

  private fixed32(value: number): void {
    this.room(4);
    this.view.setUint32(this.pos, value >>> 0, true);
    this.pos += 4;
  }

  /** [seconds, nanos] as fixed64 nanoseconds, exact (a double cannot hold epoch nanoseconds). */
  private hrTime(t: HrTime): void {
    this.room(8);
    const seconds = t[0];
    const nanos = t[1];
    // seconds * 1e9 + nanos split into 32-bit halves without losing precision
    const lowSeconds = seconds & 0xffff;
    const highSeconds = (seconds / 0x10000) >>> 0;
    const fromLow = lowSeconds * 1e9;
    const fromHigh = highSeconds * 1e9;
    const lowSum = (fromLow >>> 0) + (((fromHigh & 0xffff) * 0x10000) >>> 0) + nanos;
    const low = lowSum >>> 0;
    const high = (Math.floor(fromLow / 4294967296) + ((fromHigh / 0x10000) >>> 0) + Math.floor(lowSum / 4294967296)) >>> 0;
    this.view.setUint32(this.pos, low, true);
    this.view.setUint32(this.pos + 4, high, true);
    this.pos += 8;
  }

  /**
   * Epoch milliseconds (an integer) plus nanoseconds as fixed64 nanoseconds, exact, in 32-bit halves.
   * Divisions by powers of two and floor (exact below 2^53) rather than `%`, which is a libm fmod
   * call on doubles; and the millisecond's words are kept, since a span's end and the next spans'
   * starts mostly share its start's millisecond.
   */
  private msPlusNs(ms: number, ns: number): void {
    this.room(8);
    if (ms !== this.lastMs) {
      // ms = a * 2^20 + b, so ms * 1e6 = a * 1e6 * 2^20 + b * 1e6, and a * 1e6 * 2^20 = (a * 1e6 / 4096) * 2^32
      const a = Math.floor(ms / 1048576);
      const am = a * 1e6;
      const amHigh = Math.floor(am / 4096);
      const lowSum = (am - amHigh * 4096) * 1048576 + (ms - a * 1048576) * 1e6;
      const carry = Math.floor(lowSum / 4294967296);
      this.lastMs = ms;
      this.lastMsLow = lowSum - carry * 4294967296;
      this.lastMsHigh = amHigh + carry;
    }
    let low = this.lastMsLow + ns;
    let high = this.lastMsHigh;
    if (low >= 4294967296) {
      const carry = Math.floor(low / 4294967296);
      low -= carry * 4294967296;
      high += carry;
    }
    this.view.setUint32(this.pos, low, true);
    this.view.setUint32(this.pos + 4, high >>> 0, true);
    this.pos += 8;
  }

  private raw(bytes: Uint8Array): void {
    const n = bytes.length;
    this.room(n);
    // cached pairs are a few bytes: a loop beats the native set() call's overhead
    if (n > 32) this.buf.set(bytes, this.pos);
    else {
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) buf[p++] = bytes[i]!;
    }
    this.pos += n;
  }

  private hexBytes(hex: string): void {
    const n = hex.length >>> 1;
    this.varint(n);
    this.room(n);
    const buf = this.buf;
    for (let i = 0; i < hex.length; i += 2) buf[this.pos++] = (HEX[hex.charCodeAt(i)]! << 4) | HEX[hex.charCodeAt(i + 1)]!;
  }

  private string(s: string): void {
    const len = s.length;
    if (len < 128) {
      // short strings are nearly always ASCII: written by a loop, no native call, no view made
      this.room(len + 1);
      const buf = this.buf;
      let p = this.pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c > 127) break;
        buf[p++] = c;
      }
      if (i === len) {
        buf[this.pos] = len;
        this.pos = p;
        return;
      }
    }
    // native UTF-8 encoding into the buffer: at most 3 bytes per UTF-16 unit, length prefix widened after
    this.room(len * 3 + 5);
    const at = this.begin();
    this.pos += this.utf8.encodeInto(s, this.buf.subarray(this.pos)).written;
    this.end(at);
  }
}

/** Batch buffers grow in steps of this, so batches of about the same size share one. */
const BATCH_BUFFER_STEP = 64 * 1024;

function roundUp(n: number, step: number): number {
  return Math.ceil(n / step) * step;
}

/** The spans of one resource and scope, encoded as ScopeSpans.spans fields, waiting for take(). */
interface SpanGroup {
  readonly resource: object;
  readonly scope: ReadableSpan["instrumentationScope"];
  buf: Uint8Array;
  view: DataView;
  pos: number;
}

const schemaUrlOf = (resource: object): string | undefined => (resource as { schemaUrl?: string }).schemaUrl;

/** Span flags: W3C trace flags plus "is the parent remote" known (0x100) and set (0x200). */
function flagsOf(ctx: SpanContext, isRemote: boolean | undefined): number {
  return (ctx.traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);
}

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Hex digit values by char code ('0'-'9', 'a'-'f', 'A'-'F'). */
const HEX = (() => {
  const t = new Uint8Array(128);
  for (let i = 0; i < 10; i++) t[48 + i] = i;
  for (let i = 0; i < 6; i++) t[97 + i] = t[65 + i] = 10 + i;
  return t;
})();
