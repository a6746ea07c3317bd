import { afterEach, describe, expect, test } from "bun:test";
import { UpstreamError } from "../../../src/transport/http1/errors.ts";
import { proxyRequest, type ProxyOptions } from "../../../src/transport/http-proxy.ts";
import { Http1Client } from "../../../src/transport/http1/index.ts";
import { countingServer, gate } from "./http1-servers.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** upstream ← proxy (Bun.serve + proxyRequest over the pool) ← the test's fetch(). */
function chain(upstream: (req: Request) => Response | Promise<Response>, opts: Omit<ProxyOptions, "client"> = {}) {
  const up = countingServer(upstream);
  const client = new Http1Client();
  const front = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, srv) => proxyRequest(client, req, new URL(req.url), up.target, { ...opts, clientIp: srv.requestIP(req)?.address, signal: req.signal }),
    error: (err) => new Response((err as Error).message, { status: err instanceof UpstreamError ? err.httpStatus : 500 }),
  });
  cleanups.push(() => {
    front.stop(true);
    client.close();
    up.stop();
  });
  return { url: `http://127.0.0.1:${front.port}`, up, client };
}

describe("proxyRequest over the HTTP/1.1 pool", () => {
  test("forwards method, path, query and fields; strips hop-by-hop and forged identity; adds X-Forwarded-*", async () => {
    const { url } = chain((req) => Response.json({ method: req.method, url: req.url, headers: Object.fromEntries(req.headers) }), {
      stripHeaders: ["x-bpm-user-id"],
      setHeaders: { "x-correlation-id": "cid-1" },
    });
    const res = await fetch(`${url}/api/tasks/7?x=1&y=2`, {
      method: "DELETE",
      headers: { "x-bpm-user-id": "forged", "x-correlation-id": "from-client", connection: "keep-alive, x-hop", "x-hop": "1", "x-forwarded-for": "10.0.0.1", accept: "application/json" },
    });
    const seen = (await res.json()) as { method: string; url: string; headers: Record<string, string> };
    expect(seen.method).toBe("DELETE");
    expect(new URL(seen.url).pathname + new URL(seen.url).search).toBe("/api/tasks/7?x=1&y=2");
    expect(seen.headers["x-bpm-user-id"]).toBeUndefined();
    expect(seen.headers["x-hop"]).toBeUndefined();
    expect(seen.headers["x-correlation-id"]).toBe("cid-1");
    expect(seen.headers["x-forwarded-for"]).toBe("10.0.0.1, 127.0.0.1");
    expect(seen.headers["x-forwarded-proto"]).toBe("http");
    expect(seen.headers["accept"]).toBe("application/json");
  });

  test("response fields, status and Set-Cookie come back; hop-by-hop ones do not", async () => {
    const { url } = chain(() => {
      const h = new Headers({ "x-upstream": "1", "keep-alive": "timeout=5" });
      h.append("set-cookie", "a=1");
      h.append("set-cookie", "b=2");
      return new Response("created", { status: 201, headers: h });
    });
    const res = await fetch(`${url}/x`);
    expect(res.status).toBe(201);
    expect(res.headers.get("x-upstream")).toBe("1");
    expect(res.headers.get("keep-alive")).toBeNull();
    expect(res.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await res.text()).toBe("created");
  });

  test("SSE flows through unbuffered", async () => {
    const release = gate();
    const { url } = chain(
      () =>
        new Response(
          new ReadableStream({
            async start(c) {
              c.enqueue(new TextEncoder().encode("data: 1\n\n"));
              await release.promise;
              c.enqueue(new TextEncoder().encode("data: 2\n\n"));
              c.close();
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        ),
    );
    const res = await fetch(`${url}/api/tasks/stream`);
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: 1\n\n");
    release.open();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: 2\n\n");
  });

  test("a chunked upload streams to the upstream before the client finished it", async () => {
    const firstSeen = gate();
    const { url } = chain(async (req) => {
      let text = "";
      for await (const chunk of req.body!) {
        text += new TextDecoder().decode(chunk);
        firstSeen.open();
      }
      return new Response(text);
    });
    let push!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (push = c) });
    const pending = fetch(`${url}/upload`, { method: "POST", body, duplex: "half" } as RequestInit);
    push.enqueue(new TextEncoder().encode("a".repeat(10_000)));
    await firstSeen.promise;
    push.enqueue(new TextEncoder().encode("b"));
    push.close();
    expect(await (await pending).text()).toBe(`${"a".repeat(10_000)}b`);
  });

  test("a buffered body given by the caller (for retries) is sent with its length", async () => {
    const up = countingServer(async (req) => Response.json({ len: req.headers.get("content-length"), body: await req.text() }));
    const client = new Http1Client();
    cleanups.push(() => (client.close(), up.stop()));
    const req = new Request("http://gw/api/tasks", { method: "POST", body: "ignored" });
    const res = await proxyRequest(client, req, new URL(req.url), up.target, { body: new TextEncoder().encode('{"a":1}').buffer as ArrayBuffer });
    expect(await res.json()).toEqual({ len: "7", body: '{"a":1}' });
  });

  test("HEAD keeps the upstream's Content-Length; an 8 MiB GET streams through intact", async () => {
    const big = new Uint8Array(8 * 1024 * 1024).map((_, i) => i % 251);
    const { url } = chain(() => new Response(big, { headers: { "content-type": "application/octet-stream" } }));
    const head = await fetch(`${url}/blob`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(big.length));
    const got = new Uint8Array(await (await fetch(`${url}/blob`)).arrayBuffer());
    expect(got.length).toBe(big.length);
    expect(Bun.hash(got)).toBe(Bun.hash(big));
  });

  test("an unreachable upstream is an UpstreamError (502)", async () => {
    const client = new Http1Client();
    cleanups.push(() => client.close());
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    const req = new Request("http://gw/api/tasks/1");
    const err = await proxyRequest(client, req, new URL(req.url), { address: "127.0.0.1", port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).httpStatus).toBe(502);
  });

  test("5 waves of 40 concurrent requests through the proxy reuse at most 40 upstream connections", async () => {
    const { url, up, client } = chain(() => Response.json({ ok: 1 }));
    for (let round = 0; round < 5; round++) {
      const all = await Promise.all(Array.from({ length: 40 }, () => fetch(`${url}/x`).then((r) => r.json())));
      expect(all.every((x) => (x as { ok: number }).ok === 1)).toBe(true);
    }
    expect(up.connections()).toBeLessThanOrEqual(40);
    expect(client.stats().reusedRequests).toBeGreaterThanOrEqual(200 - 40);
  });
});
