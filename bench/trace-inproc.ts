/**
 * In-process cost of the tracing work of one gateway request on the direct path, as the
 * gateway does it (src/roles/gateway/index.ts rawHandler and ended(), resilient-http.ts
 * forwardDirect and DirectAttempt): the server span from a two-field header record, the
 * attempt span and its traceparent on a copy of the set headers, the context captured and
 * re-entered for the answer, both spans ended with status and correlation id. Modes are
 * interleaved in rounds; prints CPU µs per request (median of rounds) per mode.
 *
 *   bun bench/trace-inproc.ts [rounds=7] [requests=40000] [modes=off,out,rec,enc,send] [src=../src,…]
 *
 * out: always_off; r10, r1: parent-based 10% / 1% of new traces, sent as in send; rec: recorded, span objects discarded; enc: OTLP protobuf encoded as the spans
 * end, batches discarded; send: encoded and sent over OTLP/HTTP to a null collector in a child
 * process (this process's CPU only). `src`: one or more checkouts' `src` (comma-separated) whose
 * telemetry is run in turn, each in a child process, rounds interleaved (A/B of two builds).
 */
import { resolve } from "node:path";

const rounds = Number(process.argv[2] ?? 7);
const N = Number(process.argv[3] ?? 40_000);
const modes = (process.argv[4] ?? "off,out,rec,enc,send").split(",");
const srcs = (process.argv[5] ?? "../src").split(",").map((s) => resolve(import.meta.dir, s));

if (process.env.TRACE_INPROC_CHILD) {
  await child(process.env.TRACE_INPROC_CHILD, process.env.TRACE_INPROC_MODE!, Number(process.env.TRACE_INPROC_PORT));
  process.exit(0);
}

// a null OTLP collector in a child process (its CPU is not counted)
const collector = Bun.spawn([process.execPath, "-e", `import { startNullCollector } from ${JSON.stringify(resolve(import.meta.dir, "lib.ts"))}; console.log(startNullCollector().port);`], { stdout: "pipe" });
const first = await collector.stdout.getReader().read();
const port = Number(new TextDecoder().decode(first.value).trim());

const results = new Map<string, number[]>();
for (let r = 0; r < rounds; r++) {
  const order = srcs.flatMap((s) => modes.map((m) => [s, m] as const));
  if (r % 2 === 1) order.reverse();
  for (const [s, m] of order) {
    const p = Bun.spawn([process.execPath, import.meta.path, String(rounds), String(N)], { env: { ...process.env, TRACE_INPROC_CHILD: s, TRACE_INPROC_MODE: m, TRACE_INPROC_PORT: String(port) }, stdout: "pipe", stderr: "inherit" });
    const out = (await new Response(p.stdout).text()).trim();
    await p.exited;
    const key = `${srcs.length > 1 ? s + " " : ""}${m}`;
    if (!results.has(key)) results.set(key, []);
    results.get(key)!.push(Number(out));
  }
}
collector.kill();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [k, xs] of results) console.log(`${k.padEnd(40)} ${median(xs).toFixed(2)} µs/request  (${xs.map((x) => x.toFixed(2)).join(" ")})`);

async function child(src: string, mode: string, port: number): Promise<void> {
  const { context } = await import("@opentelemetry/api");
  const tracing = await import(`${src}/telemetry/tracing.ts`);
  const spans = await import(`${src}/telemetry/http-spans.ts`);
  const { Metrics } = await import(`${src}/telemetry/metrics.ts`);
  const env: Record<string, string> = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` };
  if (mode === "out") env.OTEL_TRACES_SAMPLER = "always_off";
  // r10, r1: new traces sampled at 10% / 1% (parent-based ratio), the rest sampled out; sent as in "send"
  if (mode.startsWith("r") && mode !== "rec" && mode !== "raw") Object.assign(env, { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: String(Number(mode.slice(1)) / 100) });
  // batch settings from this process's environment (OTEL_BSP_*), e.g. to compare batch sizes
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith("OTEL_BSP_") && v !== undefined) env[k] = v;
  const discard = { export: (_s: unknown, done: (r: { code: number }) => void) => done({ code: 0 }), shutdown: async () => {} };
  const dropBatches = { export: (_b: unknown, done: (r: { code: number }) => void) => queueMicrotask(() => done({ code: 0 })), shutdown: async () => {} };
  const url = `http://127.0.0.1:${port}/v1/traces`;
  const viaFetch = {
    export: (b: { bytes: Uint8Array }, done: (r: { code: number }) => void) =>
      void fetch(url, { method: "POST", body: b.bytes, headers: { "content-type": "application/x-protobuf" } }).then(
        async (res) => { await res.arrayBuffer(); done({ code: res.ok ? 0 : 1 }); },
        () => done({ code: 1 }),
      ),
    shutdown: async () => {},
  };
  // a bare keep-alive HTTP/1.1 POST over one socket (measurement only: no retries, no timeouts)
  let pending: ((ok: boolean) => void) | undefined;
  let got = "";
  const sock = mode !== "raw" ? (undefined as never) : await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, chunk) {
        got += new TextDecoder().decode(chunk);
        const end = got.indexOf("\r\n\r\n");
        if (end < 0) return;
        const m = /content-length: *(\d+)/i.exec(got.slice(0, end));
        if (got.length < end + 4 + Number(m?.[1] ?? 0)) return;
        const ok = got.startsWith("HTTP/1.1 2");
        got = "";
        const p = pending;
        pending = undefined;
        p?.(ok);
      },
    },
  });
  const head = (n: number) => `POST /v1/traces HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/x-protobuf\r\ncontent-length: ${n}\r\n\r\n`;
  const viaSocket = {
    export: (b: { bytes: Uint8Array }, done: (r: { code: number }) => void) => {
      pending = (ok) => done({ code: ok ? 0 : 1 });
      sock.write(head(b.bytes.length));
      sock.write(b.bytes);
    },
    shutdown: async () => {},
  };
  const metrics = new Metrics();
  if (mode !== "off") await tracing.initTracing({ roles: ["gateway"], version: "bench", env, metrics, exporter: mode === "rec" ? discard : undefined, transport: mode === "enc" ? dropBatches : mode === "fetch" ? viaFetch : mode === "raw" ? viaSocket : undefined });

  const cids = Array.from({ length: 4096 }, () => crypto.randomUUID());
  const paths = Array.from({ length: 1000 }, (_, i) => `/api/tasks/${crypto.randomUUID()}`);
  const setHeaders: Record<string, string> = { "x-correlation-id": "", "x-forwarded-for": "127.0.0.1" };
  const route = "/api/tasks/:id";
  const get = (_name: string): string | null => null;
  const request = (i: number) => {
    const path = paths[i % paths.length]!;
    const cid = cids[i & 4095]!;
    // rawHandler
    let span: any;
    let attempt: any;
    let ctx: any = null;
    const run = () => {
      // forwardDirect
      const a = spans.startHttpClientSpan({ service: "task-service", method: "GET", route, address: "127.0.0.1", port: 8082, resendCount: 0 });
      const headers = tracing.tracingEnabled ? { ...setHeaders } : setHeaders;
      spans.injectTraceHeaders(headers, a);
      attempt = a;
      ctx = tracing.tracingEnabled ? context.active() : null;
    };
    if (tracing.tracingEnabled) {
      const headers = { traceparent: get("traceparent") ?? undefined, tracestate: get("tracestate") ?? undefined };
      const spanOptions = { role: "gateway", request: { method: "GET", url: path, headers }, path, route, clientAddress: "127.0.0.1" };
      span = spans.startHttpServerSpan(spanOptions);
      tracing.runInSpan(span, run);
    } else run();
    // the upstream socket's callback (DirectAttempt.response), outside the request's context
    const res = { status: 200, headers: { get: (n: string) => (n === "x-correlation-id" ? cid : null) } };
    const answered = () => spans.endHttpClientSpan(attempt, { status: res.status });
    if (ctx !== null && (attempt.isRecording() || res.status >= 500)) context.with(ctx, answered);
    else answered();
    // ended()
    if (span !== undefined) spans.endHttpServerSpan(span, res);
    const traceId = span !== undefined ? span.spanContext().traceId : undefined;
    return traceId;
  };
  const cpu = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  };
  // warm up, then measure in slices with a macrotask between them (timers and I/O of the export run)
  // slices of 500 requests with a 2 ms pause between them: the export keeps up, nothing is dropped
  const slices = async (n: number) => {
    for (let i = 0; i < n; i += 500) {
      for (let j = i; j < i + 500; j++) request(j);
      await Bun.sleep(2);
    }
  };
  await slices(20_000);
  // the first export (transport set up, code paths compiled) belongs to warm-up: at 1% sampling no batch fills during it
  await tracing.flushTracing();
  const droppedBefore = (await metrics.tracingSpansDropped.get()).values[0]?.value ?? 0;
  const t0 = cpu();
  await slices(N);
  await tracing.flushTracing();
  const us = (cpu() - t0) / N;
  const dropped = ((await metrics.tracingSpansDropped.get()).values[0]?.value ?? 0) - droppedBefore;
  if (dropped > 0) console.error(`${mode}: ${dropped} spans dropped`);
  await tracing.shutdownTracing();
  console.log(us);
}
