import { afterEach, describe, expect, test } from "bun:test";
import { serveHttp1, type Http1Server, type Http1ServerOptions } from "../../../src/transport/http1/server.ts";
import { parseResponseHead, scanResponseHead } from "../../../src/transport/http1/response-head.ts";
import { WireResponse } from "../../../src/transport/http1/wire-response.ts";
import { FakeClock } from "../../../src/platform/clock.ts";

/** The raw front's connection handling with a real socket client: timeouts, backpressure, graceful stop. */

let server: Http1Server | undefined;
afterEach(async () => {
  await server?.stop(true);
  server = undefined;
});

function start(handler: Http1ServerOptions["handler"], opts: Partial<Http1ServerOptions> = {}): Http1Server {
  server = serveHttp1({ hostname: "127.0.0.1", port: 0, handler, errorResponse: (err) => new Response(String(err), { status: (err as { httpStatus?: number }).httpStatus ?? 500 }), maxBodyBytes: 1 << 20, ...opts });
  return server;
}

async function connect(port: number) {
  const state = { text: "", bytes: 0, closed: false };
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, buf) {
        state.bytes += buf.length;
        if (state.text.length < 4096) state.text += buf.toString("latin1");
      },
      close() {
        state.closed = true;
      },
    },
  });
  return { socket, state };
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await Bun.sleep(20);
  return cond();
}

describe("raw HTTP/1.1 server", () => {
  test("a head that never completes → 408 and close after the header timeout (slowloris); an idle keep-alive connection closes after the idle timeout", async () => {
    const clock = new FakeClock();
    const srv = start(() => new Response("ok"), { headerTimeoutMs: 60_000, idleTimeoutMs: 75_000, clock });
    const slow = await connect(srv.port);
    slow.socket.write("GET / HTTP/1.1\r\nhost: x\r\n");
    const idle = await connect(srv.port);
    idle.socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    expect(await until(() => idle.state.text.includes("ok\r\n0\r\n\r\n"), 5000)).toBe(true);
    expect(await until(() => srv.openConnections === 2, 5000)).toBe(true);
    clock.advance(59_000);
    expect(slow.state.closed || idle.state.closed).toBe(false);
    clock.advance(3_000);
    expect(await until(() => slow.state.closed, 5000)).toBe(true);
    expect(slow.state.text).toStartWith("HTTP/1.1 408 ");
    expect(idle.state.closed).toBe(false);
    clock.advance(15_000);
    expect(await until(() => idle.state.closed, 5000)).toBe(true);
  });

  test("a request body that stops arriving → 408 and close after the body timeout, counted from the last read; the handler's signal fires", async () => {
    const clock = new FakeClock();
    let aborted = false;
    const srv = start(async (req) => {
      req.signal.addEventListener("abort", () => (aborted = true));
      return new Response(await req.arrayBuffer());
    }, { bodyTimeoutMs: 60_000, clock });
    const c = await connect(srv.port);
    c.socket.write("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nab");
    expect(await until(() => srv.openConnections === 1, 5000)).toBe(true);
    clock.advance(50_000);
    c.socket.write("cd");
    expect(await until(() => [...srv.connections][0]!.bodyBytes === 4, 5000)).toBe(true);
    clock.advance(50_000);
    expect(c.state.closed).toBe(false);
    clock.advance(12_000);
    expect(await until(() => c.state.closed, 5000)).toBe(true);
    expect(c.state.text).toStartWith("HTTP/1.1 408 ");
    expect(aborted).toBe(true);
  });

  test("a client that stops reading stops the response body being produced (write backpressure)", async () => {
    let produced = 0;
    const chunk = new Uint8Array(64 * 1024);
    const srv = start(
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull(c) {
              produced += chunk.length;
              if (produced > 64 * 1024 * 1024) c.close();
              else c.enqueue(chunk);
            },
          }),
        ),
    );
    const { socket, state } = await connect(srv.port);
    socket.pause();
    socket.write("GET /big HTTP/1.1\r\nhost: x\r\n\r\n");
    // the server is waiting for the socket to drain: the kernel took all it will
    expect(await until(() => [...srv.connections][0]?.drainWaiter != null, 10_000)).toBe(true);
    // socket buffers on both ends hold a few MiB at most; the rest must not have been made
    expect(produced).toBeLessThan(24 * 1024 * 1024);
    socket.resume();
    expect(await until(() => state.bytes > 64 * 1024 * 1024, 10_000)).toBe(true);
    socket.end();
  });

  test("stop(): idle connections close at once, a request in flight finishes first", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const srv = start(async () => {
      await gate;
      return new Response("done");
    });
    const idle = await connect(srv.port);
    const busy = await connect(srv.port);
    busy.socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    expect(await until(() => srv.openConnections === 2 && [...srv.connections].some((c) => c.busy), 5000)).toBe(true);
    let stopped = false;
    const stopping = srv.stop(false).then(() => (stopped = true));
    expect(await until(() => idle.state.closed, 1000)).toBe(true);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(await until(() => busy.state.closed, 1000)).toBe(true);
    expect(busy.state.text).toContain("connection: close");
    expect(busy.state.text).toEndWith("done\r\n0\r\n\r\n");
  });

  test("a chunked request body is decoded and streamed to the handler; a chunked response is framed", async () => {
    const srv = start(async (req) => {
      const text = await new Response(req.body).text();
      return new Response(new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(`got ${text}`)), c.close()) }));
    });
    const { socket, state } = await connect(srv.port);
    socket.write("POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n");
    // the second chunk goes out once the first was read, so the body arrives in two reads
    expect(await until(() => [...srv.connections][0]?.bodyBytes === 5, 5000)).toBe(true);
    socket.write("6\r\n world\r\n0\r\n\r\n");
    expect(await until(() => state.text.endsWith("0\r\n\r\n"), 2000)).toBe(true);
    expect(state.text).toContain("transfer-encoding: chunked");
    expect(state.text).toContain("f\r\ngot hello world\r\n0\r\n\r\n");
    socket.end();
  });

  test("a client that half-closes after pipelining two requests gets both answers, then the close", async () => {
    const srv = start(async (req) => {
      await Bun.sleep(50);
      return new Response(req.pathname, { headers: { "content-length": String(req.pathname.length) } });
    });
    const py = Bun.spawn(
      ["python3", "-c", `import socket
s=socket.create_connection(("127.0.0.1", ${srv.port}))
s.sendall(b"GET /one HTTP/1.1\\r\\nhost: x\\r\\n\\r\\nGET /two HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n")
s.shutdown(socket.SHUT_WR)
out=b""
while True:
    b=s.recv(4096)
    if not b: break
    out+=b
print(out.decode())`],
      { stdout: "pipe" },
    );
    const out = await new Response(py.stdout).text();
    expect(out).toContain("\r\n\r\n/one");
    expect(out.trimEnd()).toEndWith("\r\n\r\n/two");
  });
});

describe("relayed responses (WireResponse) written as one block or line by line", () => {
  // the same upstream answer read two ways: in place (block copy when possible) and by the text parser (line by line)

  function wire(headText: string, body: string, inPlace: boolean) {
    const buf = Buffer.from(`xx${headText}\r\n\r\n${body}`, "latin1");
    const end = 2 + headText.length;
    const head = inPlace ? scanResponseHead(buf, 2, end) : null;
    const bytes = buf.subarray(end + 4);
    if (head !== null) return new WireResponse(head.status, head.raw!, null, bytes);
    const parsed = parseResponseHead(headText, true);
    return new WireResponse(parsed.status, parsed.statusText, parsed.fields, bytes);
  }

  /** What a client sees: status line, field lines (names lower-cased, sorted), body. */
  function seen(text: string) {
    const end = text.indexOf("\r\n\r\n");
    const lines = text.slice(0, end).split("\r\n");
    const status = lines.shift();
    const fields = lines.map((l) => {
      const c = l.indexOf(":");
      return `${l.slice(0, c).toLowerCase()}: ${l.slice(c + 1).trim()}`;
    });
    return { status, fields: fields.sort(), body: text.slice(end + 4) };
  }

  async function through(res: WireResponse): Promise<string> {
    const srv = start(() => res);
    const c = await connect(srv.port);
    c.socket.write("GET /x HTTP/1.1\r\nhost: a\r\n\r\n");
    await until(() => c.state.text.includes("\r\n\r\n") && c.state.text.endsWith(res.bytes ? Buffer.from(res.bytes).toString("latin1") : ""), 2000);
    c.socket.end();
    await srv.stop(true);
    server = undefined;
    return c.state.text;
  }

  const heads: [string, string][] = [
    ["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\nX-Correlation-ID: cid-1\r\nDate: Sun, 22 Nov 2026 07:00:00 GMT", '{"a":1}'],
    ["HTTP/1.1 200 OK\r\ncontent-length: 7\r\nx-correlation-id: someone-else", '{"a":1}'],
    ["HTTP/1.1 200 OK\r\nContent-Length: 7\r\nKeep-Alive: timeout=5\r\nX-Correlation-ID: cid-1", '{"a":1}'],
    ["HTTP/1.0 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a=1", "hi"],
    ["HTTP/1.1 404 Not Found\r\nContent-Length: 0", ""],
    ["HTTP/1.1 200 OK\r\nContent-Length: 2\r\nRateLimit-Limit: 5\r\nx-correlation-id: cid-1\r\nx-correlation-id: cid-1", "hi"],
  ];

  for (const [head, body] of heads) {
    test(`the same bytes reach the client either way: ${JSON.stringify(head.split("\r\n")[0] + " …" + head.split("\r\n").length + " lines")}`, async () => {
      const edit = (res: WireResponse) => {
        // what the gateway does to an answer
        res.headers.setUnlessSame("x-correlation-id", "cid-1");
        res.headers.set("ratelimit-limit", "100");
        res.headers.set("ratelimit-remaining", "99");
        res.headers.append("set-cookie", "SERVERID=i1; Path=/");
        return res;
      };
      const block = await through(edit(wire(head, body, true)));
      const lines = await through(edit(wire(head, body, false)));
      const a = seen(block);
      const b = seen(lines);
      // the date line differs only if the server's clock ticked between the two
      a.fields = a.fields.filter((f) => !f.startsWith("date:"));
      b.fields = b.fields.filter((f) => !f.startsWith("date:"));
      expect(a).toEqual(b);
      expect(a.status!.startsWith("HTTP/1.1 ")).toBe(true);
      expect(a.fields.filter((f) => f.startsWith("x-correlation-id:"))).toEqual(["x-correlation-id: cid-1"]);
      expect(a.fields.filter((f) => f.startsWith("content-length:"))).toEqual([`content-length: ${body.length}`]);
      expect(a.fields.some((f) => f.startsWith("keep-alive"))).toBe(false);
      // the first head goes out as one block: its Content-Length where the upstream put it, in its case
      if (head.includes("Content-Type: application/json\r\nContent-Length: 7")) expect(block).toStartWith("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\nX-Correlation-ID: cid-1\r\n");
    });
  }
});
