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
    const line = JSON.stringify(entry);
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
