// Reads traces back from a real Jaeger (its HTTP query API) and checks their parent/child shape.

/** A span as Jaeger's query API returns it, with its service resolved and children linked. */
export interface TraceSpan {
  spanId: string;
  parentId?: string;
  service: string;
  name: string;
  kind?: string;
  tags: Record<string, unknown>;
  /** Span event names in order (OTel events arrive as Jaeger logs with an `event` field). */
  events: string[];
  eventFields: Array<Record<string, unknown>>;
  startTimeUs: number;
  children: TraceSpan[];
}

export interface Trace {
  traceId: string;
  spans: TraceSpan[];
  /** Spans whose parent is not in the trace (the caller's span, or a real root). */
  roots: TraceSpan[];
  /** The tree drawn as indented lines, for failure messages. */
  render(): string;
}

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: Array<{ refType: string; spanID: string }>;
  startTime: number;
  tags?: Array<{ key: string; value: unknown }>;
  logs?: Array<{ fields?: Array<{ key: string; value: unknown }> }>;
  processID: string;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

function toTrace(raw: JaegerTrace): Trace {
  const spans: TraceSpan[] = raw.spans.map((s) => {
    const tags = Object.fromEntries((s.tags ?? []).map((t) => [t.key, t.value]));
    const eventFields = (s.logs ?? []).map((l) => Object.fromEntries((l.fields ?? []).map((f) => [f.key, f.value])));
    return {
      spanId: s.spanID,
      parentId: s.references?.find((r) => r.refType === "CHILD_OF")?.spanID,
      service: raw.processes[s.processID]?.serviceName ?? "?",
      name: s.operationName,
      kind: typeof tags["span.kind"] === "string" ? (tags["span.kind"] as string) : undefined,
      tags,
      events: eventFields.map((f) => String(f.event ?? "")),
      eventFields,
      startTimeUs: s.startTime,
      children: [],
    };
  });
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  for (const s of spans) if (s.parentId) byId.get(s.parentId)?.children.push(s);
  for (const s of spans) s.children.sort((a, b) => a.startTimeUs - b.startTimeUs);
  const roots = spans.filter((s) => !s.parentId || !byId.has(s.parentId)).sort((a, b) => a.startTimeUs - b.startTimeUs);
  const render = () => {
    const lines: string[] = [];
    const walk = (s: TraceSpan, depth: number) => {
      lines.push(`${"  ".repeat(depth)}${s.service}: ${s.name} [${s.kind ?? "?"}]${s.events.length ? ` events=${s.events.join(",")}` : ""}`);
      for (const c of s.children) walk(c, depth + 1);
    };
    for (const r of roots) walk(r, 0);
    return lines.join("\n");
  };
  return { traceId: raw.traceID, spans, roots, render };
}

/**
 * Polls Jaeger until trace `traceId` has at least `minSpans` spans (export is batched and
 * asynchronous), then returns it. Throws after `timeoutMs` with what it saw.
 */
export async function fetchTrace(queryUrl: string, traceId: string, opts: { minSpans?: number; timeoutMs?: number } = {}): Promise<Trace> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  const min = opts.minSpans ?? 1;
  let last = "nothing";
  for (;;) {
    const res = await fetch(`${queryUrl}/api/traces/${traceId}`);
    if (res.ok) {
      const body = (await res.json()) as { data?: JaegerTrace[] };
      const raw = body.data?.[0];
      if (raw) {
        const t = toTrace(raw);
        if (t.spans.length >= min) return t;
        last = `${t.spans.length} span(s):\n${t.render()}`;
      }
    } else {
      last = `HTTP ${res.status}`;
    }
    if (Date.now() > deadline) throw new Error(`trace ${traceId} did not reach ${min} span(s) in Jaeger; last saw ${last}`);
    await Bun.sleep(100);
  }
}

/** Trace ids Jaeger holds for `service` (most recent first), optionally filtered by a span tag. */
export async function findTraceIds(queryUrl: string, service: string, tags?: Record<string, string>): Promise<string[]> {
  const q = new URLSearchParams({ service, limit: "100", lookback: "1h" });
  if (tags) q.set("tags", JSON.stringify(tags));
  const res = await fetch(`${queryUrl}/api/traces?${q}`);
  if (!res.ok) throw new Error(`jaeger /api/traces answered ${res.status}`);
  const body = (await res.json()) as { data?: JaegerTrace[] };
  return (body.data ?? []).map((t) => t.traceID);
}

/** The services Jaeger has received spans from. */
export async function jaegerServices(queryUrl: string): Promise<string[]> {
  const res = await fetch(`${queryUrl}/api/services`);
  return ((await res.json()) as { data?: string[] }).data ?? [];
}

/** What one span of the tree must be; unspecified fields are not checked. */
export interface SpanExpectation {
  service: string;
  name: string | RegExp;
  /** "server" | "client" | "internal" | "producer" | "consumer" */
  kind?: string;
  /** Tags that must be present with these values. */
  tags?: Record<string, unknown>;
  /** Event names that must appear on the span, in this order (others may come between). */
  events?: string[];
  /**
   * Children that must exist, each matched by a distinct child span (order-free, extra
   * children allowed). Two expectations alike (a retry's two attempts) need two spans.
   */
  children?: SpanExpectation[];
}

function matches(span: TraceSpan, e: SpanExpectation): boolean {
  if (span.service !== e.service) return false;
  if (typeof e.name === "string" ? span.name !== e.name : !e.name.test(span.name)) return false;
  if (e.kind && span.kind !== e.kind) return false;
  for (const [k, v] of Object.entries(e.tags ?? {})) if (span.tags[k] !== v) return false;
  if (e.events) {
    let i = 0;
    for (const name of span.events) if (name === e.events[i]) i++;
    if (i < e.events.length) return false;
  }
  return assignChildren(span.children, e.children ?? []);
}

/** Backtracking: each expected child gets its own actual child. */
function assignChildren(actual: readonly TraceSpan[], expected: readonly SpanExpectation[], used = new Set<TraceSpan>()): boolean {
  if (expected.length === 0) return true;
  const [first, ...rest] = expected as [SpanExpectation, ...SpanExpectation[]];
  for (const child of actual) {
    if (used.has(child) || !matches(child, first)) continue;
    used.add(child);
    if (assignChildren(actual, rest, used)) return true;
    used.delete(child);
  }
  return false;
}

const describeExpectation = (e: SpanExpectation, depth = 0): string =>
  [`${"  ".repeat(depth)}${e.service}: ${String(e.name)}${e.kind ? ` [${e.kind}]` : ""}${e.events ? ` events=${e.events.join(",")}` : ""}`, ...(e.children ?? []).map((c) => describeExpectation(c, depth + 1))].join("\n");

/**
 * Fetches trace `traceId` from Jaeger (waiting for `minSpans`) and asserts that some span of
 * it roots the expected tree. Returns the trace; throws with both trees drawn when it does not match.
 */
export async function assertTraceTree(queryUrl: string, traceId: string, expected: SpanExpectation, opts: { minSpans?: number; timeoutMs?: number } = {}): Promise<Trace> {
  const count = (e: SpanExpectation): number => 1 + (e.children ?? []).reduce((n, c) => n + count(c), 0);
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  for (;;) {
    const trace = await fetchTrace(queryUrl, traceId, { minSpans: opts.minSpans ?? count(expected), timeoutMs: Math.max(1, deadline - Date.now()) });
    if (trace.spans.some((s) => matches(s, expected))) return trace;
    // late spans (another process's batch) may still complete the tree
    if (Date.now() > deadline) throw new Error(`trace ${traceId} does not contain the expected tree.\nexpected:\n${describeExpectation(expected)}\nactual:\n${trace.render()}`);
    await Bun.sleep(200);
  }
}
