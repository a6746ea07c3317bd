// Raw-socket helpers for the HTTP/1.1 conformance and differential tests: send exact bytes,
// read every response until the server closes, and split them into (status, body) pairs.
import { serveHttp1, type Http1Server, type Http1ServerOptions } from "../../../src/transport/http1/server.ts";

export interface WireAnswer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

export interface Exchange {
  answers: WireAnswer[];
  /** The server closed the connection (within the wait). */
  closed: boolean;
  /** Bytes after the last complete response (should be none). */
  rest: string;
}

/** Splits a byte stream of HTTP/1.1 responses (Content-Length, chunked or none for 1xx/204/304). */
export function splitResponses(text: string, headRequests = 0): { answers: WireAnswer[]; rest: string } {
  const answers: WireAnswer[] = [];
  let pos = 0;
  let heads = headRequests;
  for (;;) {
    const end = text.indexOf("\r\n\r\n", pos);
    if (end < 0) break;
    const lines = text.slice(pos, end).split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
    if (m === null) break;
    const status = Number(m[1]);
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const c = l.indexOf(":");
      headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
    }
    let p = end + 4;
    let body = "";
    if (status >= 200 && status !== 204 && status !== 304 && heads-- <= 0) {
      if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
        for (;;) {
          const eol = text.indexOf("\r\n", p);
          if (eol < 0) return { answers, rest: text.slice(pos) };
          const size = parseInt(text.slice(p, eol), 16);
          p = eol + 2;
          if (size === 0) {
            const tEnd = text.indexOf("\r\n", p);
            if (tEnd < 0) return { answers, rest: text.slice(pos) };
            p = tEnd + 2;
            break;
          }
          if (p + size + 2 > text.length) return { answers, rest: text.slice(pos) };
          body += text.slice(p, p + size);
          p += size + 2;
        }
      } else if (headers.has("content-length")) {
        const n = Number(headers.get("content-length"));
        if (p + n > text.length) break;
        body = text.slice(p, p + n);
        p += n;
      } else {
        // neither: the body runs to the close (an HTTP/1.0 answer)
        body = text.slice(p);
        p = text.length;
      }
    }
    answers.push({ status, headers, body });
    pos = p;
  }
  return { answers, rest: text.slice(pos) };
}

/**
 * Sends `parts` (each one write, so a case can split a line across reads), half-closes,
 * and reads until the server closes or `until` holds.
 */
export async function exchange(port: number, parts: (string | Uint8Array)[], opts: { end?: boolean; waitMs?: number } = {}): Promise<Exchange> {
  let text = "";
  let closed = false;
  let wake: (() => void) | null = null;
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    allowHalfOpen: true,
    socket: {
      data(_s, buf) {
        text += buf.toString("latin1");
      },
      close() {
        closed = true;
        wake?.();
      },
      end() {
        closed = true;
        wake?.();
      },
      error() {
        closed = true;
        wake?.();
      },
    },
  });
  for (const p of parts) {
    socket.write(typeof p === "string" ? Buffer.from(p, "latin1") : p);
    socket.flush();
    // let the server read each part on its own
    if (parts.length > 1) await Bun.sleep(1);
  }
  if (opts.end !== false) socket.shutdown();
  if (!closed) {
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, opts.waitMs ?? 5_000);
    });
  }
  socket.end();
  const { answers, rest } = splitResponses(text);
  return { answers, closed, rest };
}

/** The echo server both suites use: the request as it was understood, as JSON. */
export function startEcho(opts: Partial<Http1ServerOptions> = {}): Http1Server {
  return serveHttp1({
    hostname: "127.0.0.1",
    port: 0,
    maxBodyBytes: 1 << 20,
    handler: async (req) => {
      const body = Buffer.from(await req.arrayBuffer()).toString("latin1");
      return Response.json({ method: req.method, path: req.pathname + req.search, body });
    },
    errorResponse: (err) => new Response(JSON.stringify({ error: String((err as Error).message) }), { status: (err as { httpStatus?: number }).httpStatus ?? 500, headers: { "content-type": "application/json" } }),
    ...opts,
  });
}
