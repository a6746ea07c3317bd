import { afterEach, describe, expect, test } from "bun:test";
import { UpstreamError, UpstreamTimeoutError } from "../../../src/transport/http1/errors.ts";
import { Http1Client } from "../../../src/transport/http1/index.ts";
import { countingServer, gate, rawServer, until } from "./http1-servers.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
function client(): Http1Client {
  const c = new Http1Client();
  cleanups.push(() => c.close());
  return c;
}
function raw(onRequest: Parameters<typeof rawServer>[0], options?: Parameters<typeof rawServer>[1]) {
  const s = rawServer(onRequest, options);
  cleanups.push(() => s.stop());
  return Object.assign(s, { target: { address: "127.0.0.1", port: s.port } });
}
function serve(handler: (req: Request) => Response | Promise<Response>) {
  const s = countingServer(handler);
  cleanups.push(() => s.stop());
  return s;
}
const enc = new TextEncoder();
const GET = { method: "GET", path: "/" } as const;

describe("HTTP/1.1 client: response framing", () => {
  test("reads a Content-Length body that arrives in pieces", async () => {
    const s = raw((conn) => {
      conn.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncont");
      setTimeout(() => conn.write("ent-length: 11\r\n\r\nhello"), 5);
      setTimeout(() => conn.write(" world"), 10);
    });
    const res = await client().request(s.target, GET);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect(await res.text()).toBe("hello world");
  });

  test("decodes chunked bodies split anywhere, with extensions, and hands over trailers", async () => {
    const wire = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nx-checksum: abc\r\n\r\n";
    const s = raw((conn) => {
      // One byte at a time: every parser state must survive a split.
      let i = 0;
      const tick = () => {
        if (i < wire.length) conn.write(wire[i++]!);
        if (i < wire.length) setImmediate(tick);
      };
      tick();
    });
    let trailers: Headers | undefined;
    const c = client();
    const res = await c.request(s.target, { ...GET, onTrailers: (t) => (trailers = t) });
    expect(await res.text()).toBe("hello world");
    expect(trailers?.get("x-checksum")).toBe("abc");
    // The chunked response allowed keep-alive: the next request rides the same connection.
    expect(await (await c.request(s.target, GET)).text()).toBe("hello world");
    expect(s.accepted).toBe(1);
  });

  test("HTTP/1.0 response without length: body runs until the server closes, connection not reused", async () => {
    const s = raw((conn) => {
      conn.write("HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil ");
      setTimeout(() => {
        conn.write("close");
        conn.end();
      }, 5);
    });
    const c = client();
    expect(await (await c.request(s.target, GET)).text()).toBe("until close");
    expect(await (await c.request(s.target, GET)).text()).toBe("until close");
    expect(s.accepted).toBe(2);
  });

  test("Connection: close is honoured: the next request opens a new connection", async () => {
    const s = raw((conn) => conn.write("HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"));
    const c = client();
    expect(await (await c.request(s.target, GET)).text()).toBe("ok");
    expect(await (await c.request(s.target, GET)).text()).toBe("ok");
    expect(s.accepted).toBe(2);
  });

  test("204, 304 and HEAD have no body even when they declare a length, and keep the connection", async () => {
    const s = raw((conn, req) => {
      if (req.path === "/204") conn.write("HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n");
      else if (req.path === "/304") conn.write("HTTP/1.1 304 Not Modified\r\netag: \"v1\"\r\ncontent-length: 1234\r\n\r\n");
      else if (req.method === "HEAD") conn.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n");
      else conn.write("HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody");
    });
    const c = client();
    const r204 = await c.request(s.target, { method: "GET", path: "/204" });
    expect([r204.status, r204.body, r204.headers.get("x-a")]).toEqual([204, null, "1"]);
    const r304 = await c.request(s.target, { method: "GET", path: "/304" });
    expect([r304.status, r304.body, r304.headers.get("etag")]).toEqual([304, null, '"v1"']);
    const head = await c.request(s.target, { method: "HEAD", path: "/x" });
    expect([head.status, head.body, head.headers.get("content-length")]).toEqual([200, null, "100"]);
    expect(await (await c.request(s.target, GET)).text()).toBe("body");
    expect(s.accepted).toBe(1);
  });

  test("skips 100 Continue and 103 Early Hints before the real response", async () => {
    const s = raw((conn) => conn.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 3\r\n\r\nnew"));
    const res = await client().request(s.target, GET);
    expect(res.status).toBe(201);
    expect(res.headers.get("link")).toBeNull();
    expect(await res.text()).toBe("new");
  });

  test("keeps every Set-Cookie field", async () => {
    const s = serve(() => {
      const h = new Headers();
      h.append("set-cookie", "a=1; Path=/");
      h.append("set-cookie", "b=2; HttpOnly");
      return new Response("x", { headers: h });
    });
    const res = await client().request(s.target, GET);
    expect(res.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; HttpOnly"]);
  });

  test("a proxy's view: hop-by-hop fields and those named in Connection are left out", async () => {
    const s = raw((conn) => conn.write("HTTP/1.1 200 OK\r\nconnection: x-private\r\nkeep-alive: timeout=5\r\nx-private: secret\r\nx-public: yes\r\ncontent-length: 0\r\n\r\n"));
    const res = await client().request(s.target, { ...GET, stripHopByHop: true });
    expect(res.headers.get("x-public")).toBe("yes");
    expect([res.headers.get("connection"), res.headers.get("keep-alive"), res.headers.get("x-private")]).toEqual([null, null, null]);
  });

  test.each([
    ["a bad content-length", "HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n"],
    ["conflicting content-lengths", "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok"],
    ["a garbage status line", "garbage\r\n\r\n"],
    ["a status Response cannot carry", "HTTP/1.1 700 Weird\r\ncontent-length: 0\r\n\r\n"],
    ["a chunk size that is not hex", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"],
    ["a field name with a space", "HTTP/1.1 200 OK\r\nbad name: x\r\ncontent-length: 0\r\n\r\n"],
    ["a bare LF inside a value (response splitting)", "HTTP/1.1 200 OK\r\nx-a: 1\nset-cookie: evil=1\r\ncontent-length: 0\r\n\r\n"],
    ["a NUL in a value", "HTTP/1.1 200 OK\r\nx-a: 1\u0000\r\ncontent-length: 0\r\n\r\n"],
  ])("%s is an UpstreamError (502) and the connection is dropped", async (_what, wire) => {
    for (const form of ["Response", "WireResponse"] as const) {
      const s = raw((conn) => conn.write(wire));
      const c = client();
      const err = await (form === "Response" ? c.request(s.target, GET).then((res) => res.text()) : c.requestWire(s.target, GET).then((res) => res.bytes))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UpstreamError);
      expect((err as UpstreamError).httpStatus).toBe(502);
      expect((err as Error).message).toContain("malformed response");
      await until(() => s.closed === 1, "server sees the close");
      expect(c.stats().idle).toBe(0);
    }
  });

  test("requestWire: lower-case flat fields without hop-by-hop ones, the body as bytes, the connection reused", async () => {
    const s = raw((conn) => conn.write("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nConnection: x-private\r\nX-Private: secret\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 7\r\n\r\n{\"a\":1}"));
    const c = client();
    for (let i = 0; i < 2; i++) {
      const res = await c.requestWire(s.target, { ...GET, stripHopByHop: true });
      expect(res.status).toBe(201);
      expect(res.statusText).toBe("Created");
      expect(res.headers.fields).toEqual(["content-type", "application/json", "set-cookie", "a=1", "set-cookie", "b=2", "content-length", "7"]);
      expect(new TextDecoder().decode(res.bytes!)).toBe('{"a":1}');
      expect(res.stream).toBeNull();
      const back = res.toResponse();
      expect(back.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
      expect(await back.json()).toEqual({ a: 1 });
    }
    expect(c.stats().connectionsOpened).toBe(1);
  });

  test("requestWire: a body still arriving after the head is a stream", async () => {
    const s = raw((conn) => {
      conn.write("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello");
      setTimeout(() => conn.write("world"), 20);
    });
    const res = await client().requestWire(s.target, GET);
    expect(res.bytes).toBeNull();
    expect(res.contentLength).toBe(10);
    expect(await new Response(res.stream).text()).toBe("helloworld");
  });
});

describe("HTTP/1.1 client: response-head deadline (timeoutMs)", () => {
  test("no head in time → UpstreamTimeoutError (504) naming the upstream, and the connection is closed", async () => {
    const s = raw(() => {}); // never answers
    const started = performance.now();
    const err = await client().request(s.target, { ...GET, timeoutMs: 60, timeoutLabel: "task-service" }).catch((e: unknown) => e);
    const took = performance.now() - started;
    expect(err).toBeInstanceOf(UpstreamTimeoutError);
    expect((err as UpstreamTimeoutError).httpStatus).toBe(504);
    expect((err as Error).message).toBe("task-service did not answer within 60 ms");
    expect(took).toBeGreaterThanOrEqual(55);
    await until(() => s.closed === 1, "server sees the close");
  });

  test("a head in time clears the deadline: a slow body afterwards is not cut", async () => {
    const s = raw((conn) => {
      conn.write("HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab");
      setTimeout(() => conn.write("cd"), 150);
    });
    const c = client();
    const res = await c.requestWire(s.target, { ...GET, timeoutMs: 50 });
    expect(await new Response(res.stream).text()).toBe("abcd");
    // answered requests leave nothing behind for the deadline timer
    const again = await c.request(s.target, { ...GET, timeoutMs: 50 }).then((r) => r.text());
    expect(again).toBe("abcd");
    expect(s.closed).toBe(0);
  });
});


describe("HTTP/1.1 client: streaming", () => {
  test("SSE: the first event arrives while the server still holds the stream open", async () => {
    const release = gate();
    const s = serve(
      () =>
        new Response(
          new ReadableStream({
            async start(controller) {
              controller.enqueue(enc.encode("data: one\n\n"));
              await release.promise;
              controller.enqueue(enc.encode("data: two\n\n"));
              controller.close();
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        ),
    );
    const res = await client().request(s.target, GET);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("data: one\n\n");
    release.open();
    let rest = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    expect(rest).toBe("data: two\n\n");
  });

  test("an 8 MiB body streams through in many chunks, byte for byte", async () => {
    const big = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const s = serve(() => new Response(big));
    const res = await client().request(s.target, GET);
    let received = 0;
    let chunks = 0;
    let mismatch = -1;
    for await (const chunk of res.body!) {
      for (let i = 0; i < chunk.length && mismatch < 0; i += 4093) if (chunk[i] !== big[received + i]) mismatch = received + i;
      received += chunk.length;
      chunks++;
    }
    expect(received).toBe(big.length);
    expect(mismatch).toBe(-1);
    expect(chunks).toBeGreaterThan(8);
  });

  test("backpressure: a reader that stops reading stops the socket, so the server cannot push the whole body", async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    let blocked = false;
    const chunk = Buffer.alloc(256 * 1024, 7);
    const s = raw((conn) => {
      conn.write(`HTTP/1.1 200 OK\r\ncontent-length: ${total}\r\n\r\n`);
      const push = () => {
        while (written < total) {
          const n = conn.write(chunk);
          written += Math.max(0, n);
          if (n < chunk.length) {
            blocked = true;
            setTimeout(push, 2);
            return;
          }
        }
      };
      push();
    });
    const res = await client().request(s.target, GET);
    const reader = res.body!.getReader();
    await reader.read();
    await until(() => blocked, "the server's writes block");
    const stalledAt = written;
    await Bun.sleep(50); // real time for the server to try again: it must make no progress
    expect(written - stalledAt).toBeLessThan(8 * 1024 * 1024);
    expect(written).toBeLessThan(total / 2);
    await reader.cancel();
  });

  test("a streamed request body without a length goes chunked, and the server sees the first part before the end", async () => {
    const firstSeen = gate();
    const s = serve(async (req) => {
      const reader = req.body!.getReader();
      let text = "";
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        text += new TextDecoder().decode(r.value);
        firstSeen.open();
      }
      return Response.json({ te: req.headers.get("transfer-encoding"), text });
    });
    let push!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (push = c) });
    const pending = client().request(s.target, { method: "POST", path: "/upload", body });
    push.enqueue(enc.encode("part one,"));
    await firstSeen.promise;
    push.enqueue(enc.encode(" part two"));
    push.enqueue(enc.encode("x".repeat(100_000))); // larger than the one-write buffer
    push.close();
    expect(await (await pending).json()).toEqual({ te: "chunked", text: `part one, part two${"x".repeat(100_000)}` });
  });

  test("upload bytes that wait for drain are not overwritten by another request's write", async () => {
    // Connection 1's reader is paused until the test lets go, so its upload backs up into the client.
    const received: Buffer[] = [];
    let readerOne: { resume(): void } | undefined;
    let uploadDone = false;
    let accepted = 0;
    const listener = Bun.listen<{ id: number }>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(socket) {
          socket.data = { id: ++accepted };
          if (socket.data.id === 1) {
            (socket as unknown as { pause(): void }).pause();
            readerOne = socket as unknown as { resume(): void };
          }
        },
        data(socket, data) {
          if (socket.data.id !== 1) {
            socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
            return;
          }
          received.push(data);
          if (Buffer.concat(received).subarray(-5).toString() === "0\r\n\r\n") {
            uploadDone = true;
            socket.write("HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone");
          }
        },
      },
    });
    cleanups.push(() => listener.stop(true));
    const target = { address: "127.0.0.1", port: listener.port };
    const CHUNK = 32 * 1024;
    const COUNT = 256; // 8 MiB: more than loopback socket buffers hold
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled === COUNT) controller.close();
        else controller.enqueue(new Uint8Array(CHUNK).fill(pulled++ % 251));
      },
    });
    const c = client();
    const upload = c.request(target, { method: "POST", path: "/upload", body });
    let last = -1;
    await until(() => {
      const stalled = pulled === last && pulled > 0;
      last = pulled;
      return stalled;
    }, "the upload stalls on a full socket");
    expect(pulled).toBeLessThan(COUNT);
    // A second request on its own connection writes its head through the same buffer.
    expect(await (await c.request(target, { method: "GET", path: "/other", headers: ["x-filler", "z".repeat(60_000)] })).text()).toBe("ok");
    readerOne!.resume();
    expect(await (await upload).text()).toBe("done");
    expect(uploadDone).toBe(true);
    // Decode the chunked upload and check every chunk kept its own fill byte.
    const wire = Buffer.concat(received);
    let pos = wire.indexOf("\r\n\r\n") + 4;
    const fills: number[] = [];
    let intact = true;
    for (;;) {
      const eol = wire.indexOf("\r\n", pos);
      const size = parseInt(wire.toString("latin1", pos, eol), 16);
      pos = eol + 2;
      if (size === 0) break;
      const chunk = wire.subarray(pos, pos + size);
      const fill = chunk[0]!;
      if (!chunk.every((b) => b === fill)) intact = false;
      fills.push(fill);
      pos += size + 2;
    }
    expect(intact).toBe(true);
    expect(fills.length).toBe(COUNT);
    expect(fills.every((f, i) => f === i % 251)).toBe(true);
  });

  test("string and byte bodies carry Content-Length; a stream with a declared length is sent as is", async () => {
    const s = serve(async (req) => Response.json({ len: req.headers.get("content-length"), te: req.headers.get("transfer-encoding"), body: await req.text() }));
    const c = client();
    expect(await (await c.request(s.target, { method: "POST", path: "/", body: "héllo" })).json()).toEqual({ len: "6", te: null, body: "héllo" });
    expect(await (await c.request(s.target, { method: "PUT", path: "/", body: enc.encode("abc") })).json()).toEqual({ len: "3", te: null, body: "abc" });
    const stream = new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(enc.encode("12345"));
        ctl.close();
      },
    });
    expect(await (await c.request(s.target, { method: "POST", path: "/", body: stream, headers: ["content-length", "5"] })).json()).toEqual({ len: "5", te: null, body: "12345" });
    expect(await (await c.request(s.target, { method: "POST", path: "/" })).json()).toEqual({ len: "0", te: null, body: "" });
  });

  test("the upstream answering before it read the upload: the response arrives, the connection is not reused", async () => {
    const s = raw((conn) => conn.write("HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n"), { answerOnHead: true });
    let push!: ReadableStreamDefaultController<Uint8Array>;
    let uploadCancelled = false;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (push = c), cancel: () => void (uploadCancelled = true) });
    const c = client();
    push.enqueue(new Uint8Array(1000));
    const res = await c.request(s.target, { method: "POST", path: "/", body, headers: ["content-length", "100000"] });
    expect(res.status).toBe(413);
    await until(() => s.closed === 1, "connection with a half-sent body closed");
    expect(c.stats().idle).toBe(0);
    await until(() => uploadCancelled, "the rest of the upload is not read");
  });
});

describe("HTTP/1.1 client: errors", () => {
  test("connection refused → UpstreamError (502) naming the upstream", async () => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    const err = await client().request({ address: "127.0.0.1", port }, GET).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).httpStatus).toBe(502);
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
  });

  test("a server that resets mid-body errors the body stream with UpstreamError", async () => {
    const s = raw((conn) => {
      conn.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial");
      setTimeout(() => conn.destroy(), 5);
    });
    const res = await client().request(s.target, GET);
    const err = await res.text().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as Error).message).toContain("mid-body");
  });

  test("CR or LF in a header value is refused before anything is sent", async () => {
    const s = raw((conn) => conn.write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
    const err = await client().request(s.target, { ...GET, headers: ["x-a", "1\r\nx-user-id: 0"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(s.requests.length).toBe(0);
  });

  test("a CR, LF or NUL in the target, a value or the Host, or a name that is not a token, is refused before anything is sent", async () => {
    const s = raw((conn) => conn.write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
    const c = client();
    const bad = [
      { ...GET, path: "/a\r\nx-user-id: 0" },
      { ...GET, path: "/a\u0000" },
      { ...GET, headers: ["x-a", "1\u0000"] },
      { ...GET, headers: ["host", "x\r\nx-user-id: 0"] },
      { ...GET, headers: ["x-a: 1\r\nx-b", "2"] },
      { ...GET, headers: ["x a", "1"] },
      { ...GET, headers: ["", "1"] },
    ];
    for (const init of bad) expect(await c.request(s.target, init).catch((e: unknown) => e)).toBeInstanceOf(TypeError);
    expect(s.requests.length).toBe(0);
    expect((await c.request(s.target, { ...GET, headers: ["x-a", "fine \t value"] })).status).toBe(200);
  });

  test("a caller's time limit arrives as the signal's reason, and the connection is closed", async () => {
    const s = raw(() => {}); // never answers
    const ac = new AbortController();
    const reason = new Error("deadline passed");
    const pending = client().request(s.target, { ...GET, signal: ac.signal });
    await until(() => s.requests.length === 1, "request reached the server");
    ac.abort(reason);
    expect(await pending.catch((e: unknown) => e)).toBe(reason);
    await until(() => s.closed === 1, "server sees the close");
  });

  test("one signal for many requests (the raw front's per-connection signal): earlier ones done, the ones in flight all aborted", async () => {
    let answer = true;
    const s = raw((conn) => {
      if (answer) conn.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    });
    const ac = new AbortController();
    const c = client();
    for (let i = 0; i < 50; i++) expect(await (await c.request(s.target, { ...GET, signal: ac.signal })).text()).toBe("ok");
    answer = false;
    const pending = [0, 1, 2].map(() => c.requestWire(s.target, { ...GET, signal: ac.signal }).catch((e: unknown) => e));
    await until(() => s.requests.length === 53, "the three reached the server");
    const reason = new Error("client went away");
    ac.abort(reason);
    expect(await Promise.all(pending)).toEqual([reason, reason, reason]);
    expect(await c.request(s.target, { ...GET, signal: ac.signal }).catch((e: unknown) => e)).toBe(reason);
  });
});

describe("HTTP/1.1 client: requestWireTo (no promise)", () => {
  /** A sink that records every call and whether it came inside requestWireTo itself. */
  function recorder() {
    const calls: { kind: "response" | "failed"; value: unknown; sync: boolean }[] = [];
    let inCall = false;
    const sink = {
      response: (res: unknown) => void calls.push({ kind: "response", value: res, sync: inCall }),
      failed: (err: unknown) => void calls.push({ kind: "failed", value: err, sync: inCall }),
    };
    const send = (c: Http1Client, target: { address: string; port: number }, init: Parameters<Http1Client["requestWireTo"]>[1]) => {
      inCall = true;
      try {
        c.requestWireTo(target, init, sink);
      } finally {
        inCall = false;
      }
    };
    return { calls, send };
  }

  test("the response reaches the sink once, from the socket's callback, and the connection is reused", async () => {
    const s = raw((conn) => conn.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n\r\nok"));
    const c = client();
    const r = recorder();
    r.send(c, s.target, { ...GET, stripHopByHop: true });
    r.send(c, s.target, { ...GET, stripHopByHop: true }); // a second connection while the first is busy
    await until(() => r.calls.length === 2, "two responses");
    r.send(c, s.target, { ...GET, stripHopByHop: true }); // pooled by now
    await until(() => r.calls.length === 3, "the third response");
    await Bun.sleep(20);
    expect(r.calls.map((x) => [x.kind, x.sync])).toEqual([["response", false], ["response", false], ["response", false]]);
    const res = r.calls[0]!.value as import("../../../src/transport/http1/index.ts").WireResponse;
    expect([res.status, Buffer.from(res.bytes!).toString(), res.headers.get("x-a")]).toEqual([200, "ok", "1"]);
    expect(s.accepted).toBe(2);
  });

  test("refused, aborted before the start, closed client, invalid request: failed once, never inside the call", async () => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    const r = recorder();
    const c = client();
    r.send(c, { address: "127.0.0.1", port }, GET);
    const ac = new AbortController();
    ac.abort(new Error("gone"));
    r.send(c, { address: "127.0.0.1", port }, { ...GET, signal: ac.signal });
    r.send(c, { address: "127.0.0.1", port }, { method: "GET", path: "/a b" });
    const closed = new Http1Client();
    closed.close();
    r.send(closed, { address: "127.0.0.1", port }, GET);
    await until(() => r.calls.length === 4, "four failures");
    await Bun.sleep(20);
    expect(r.calls.every((x) => x.kind === "failed" && !x.sync)).toBe(true);
    expect(r.calls.length).toBe(4);
    const messages = r.calls.map((x) => (x.value as Error).message);
    expect(messages.some((m) => m.includes(`127.0.0.1:${port}`))).toBe(true); // refused, naming the upstream
    expect(messages).toContain("gone");
    expect(messages.some((m) => m.includes("invalid request target"))).toBe(true);
    expect(messages).toContain("http1 client is closed");
  });
});
