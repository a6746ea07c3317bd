/**
 * Server-sent events over a ReadableStream: a heartbeat keeps proxies from timing
 * out idle streams; `close()` (shutdown) and client disconnect both end it.
 */
export class SseStream {
  readonly response: Response;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly encoder = new TextEncoder();
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private readonly onCloseFns: Array<() => void> = [];

  constructor(signal: AbortSignal, headers: Record<string, string> = {}, heartbeatMs = 15_000) {
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.controller = c;
      },
      cancel: () => this.close(),
    });
    signal.addEventListener("abort", () => this.close(), { once: true });
    this.heartbeat = setInterval(() => this.write(": keep-alive\n\n"), heartbeatMs);
    this.response = new Response(stream, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no", ...headers },
    });
    this.write(": connected\n\n");
  }

  send(event: string, data: unknown, id?: string | number): void {
    this.write(`${id !== undefined ? `id: ${id}\n` : ""}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.onCloseFns.push(fn);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    try {
      this.controller.close();
    } catch {
      // already closed by the client
    }
    for (const fn of this.onCloseFns.splice(0)) fn();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private write(text: string): void {
    if (this.closed) return;
    try {
      this.controller.enqueue(this.encoder.encode(text));
    } catch {
      this.close();
    }
  }
}

/** Open SSE streams of one role, ended together on shutdown. */
export class SseRegistry {
  private readonly streams = new Set<SseStream>();

  add(s: SseStream): SseStream {
    this.streams.add(s);
    s.onClose(() => this.streams.delete(s));
    return s;
  }

  closeAll(): void {
    for (const s of [...this.streams]) s.close();
  }

  get size(): number {
    return this.streams.size;
  }
}
