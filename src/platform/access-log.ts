/**
 * One JSON line per request, buffered and flushed in batches so logging stays off
 * the per-request hot path (a synchronous write per request costs more than the proxy hop).
 */
export class AccessLog {
  private buffer: string[] = [];
  private bytes = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly sink: (chunk: string) => void = (c) => process.stdout.write(c), private readonly flushEveryMs = 200, private readonly maxBytes = 64 * 1024) {
    this.timer = setInterval(() => this.flush(), flushEveryMs);
    this.timer.unref?.();
  }

  write(entry: Record<string, unknown>): void {
    this.push(JSON.stringify(entry));
  }

  /**
   * The gateway's per-request line, the same JSON `write` would make of
   * {time, method, path, status, ms, upstream, correlation_id, trace_id, user}
   * (absent fields left out), built without an object or a generic stringify.
   */
  request(method: string, path: string, status: number, ms: number, upstream: string | undefined, correlationId: string, traceId: string | undefined, user: string | undefined): void {
    let line = `{"time":"${isoNow()}","method":${str(method)},"path":${str(path)},"status":${status},"ms":${ms}`;
    if (upstream !== undefined) line += `,"upstream":${str(upstream)}`;
    line += `,"correlation_id":${str(correlationId)}`;
    if (traceId !== undefined) line += `,"trace_id":${str(traceId)}`;
    if (user !== undefined) line += `,"user":${str(user)}`;
    this.push(line + "}");
  }

  private push(line: string): void {
    this.buffer.push(line);
    this.bytes += line.length + 1;
    if (this.bytes >= this.maxBytes) this.flush();
  }

  flush(): void {
    if (this.buffer.length === 0) return;
    const chunk = this.buffer.join("\n") + "\n";
    this.buffer = [];
    this.bytes = 0;
    this.sink(chunk);
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/** Printable ASCII without `"` and `\\`: quoted as it is; anything else goes through JSON.stringify. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
function str(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

let lastMs = 0;
let lastIso = "";
/** new Date().toISOString(), computed at most once per millisecond (access logs call it per request). */
export function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}
