import { afterEach, describe, expect, test } from "bun:test";
import { serveHttp1, type Http1Server, type Http1ServerOptions } from "../../../src/transport/http1/server.ts";

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
  test("a head that never completes is cut after the header timeout (slowloris); an idle keep-alive connection after the idle timeout", async () => {
    const srv = start(() => new Response("ok"), { headerTimeoutMs: 1000, idleTimeoutMs: 1000 });
    const slow = await connect(srv.port);
    slow.socket.write("GET / HTTP/1.1\r\nhost: x\r\n");
    const idle = await connect(srv.port);
    idle.socket.write("GET / HTTP/1.1\r\nhost: x\r\n\r\n");
    expect(await until(() => idle.state.text.includes("ok\r\n0\r\n\r\n"), 1000)).toBe(true);
    expect(await until(() => slow.state.closed && idle.state.closed, 4000)).toBe(true);
    expect(slow.state.text).toBe("");
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
    await Bun.sleep(500);
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
    await Bun.sleep(50);
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
    await Bun.sleep(30);
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
