import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../../src/platform/clock.ts";
import { UpstreamError } from "../../../src/transport/http1/errors.ts";
import { countingServer, OK_RESPONSE, perTest, until } from "./http1-servers.ts";

const { cleanups, client, raw } = perTest();
const GET = { method: "GET", path: "/" } as const;

describe("HTTP/1.1 pool: keep-alive", () => {
  test("sequential requests share one connection", async () => {
    const s = countingServer(() => Response.json({ ok: true }));
    cleanups.push(s.stop);
    const c = client();
    for (let i = 0; i < 20; i++) expect(await (await c.request(s.target, GET)).json()).toEqual({ ok: true });
    expect(s.connections()).toBe(1);
    expect(c.stats()).toMatchObject({ connectionsOpened: 1, reusedRequests: 19, idle: 1 });
  });

  test("concurrent requests open one connection each, then all are reused", async () => {
    const s = countingServer(async () => {
      await Bun.sleep(5);
      return new Response("x");
    });
    cleanups.push(s.stop);
    const c = client();
    const wave = () => Promise.all(Array.from({ length: 8 }, async () => (await c.request(s.target, GET)).text()));
    await wave();
    await wave();
    expect(s.connections()).toBe(8);
    expect(c.stats().idle).toBe(8);
  });

  test("a connection goes back to the pool only once its body was read to the end", async () => {
    const s = raw((conn) => conn.write(OK_RESPONSE));
    const c = client();
    const first = await c.request(s.target, GET);
    // Body not read yet, but it came with the head: the connection is free already.
    expect(c.stats().idle).toBe(1);
    await first.text();

    const slow = raw((conn) => {
      conn.write("HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab");
      setTimeout(() => conn.write("cd"), 20);
    });
    const res = await c.request(slow.target, GET);
    const second = c.request(slow.target, GET); // cannot take the busy connection
    expect(await res.text()).toBe("abcd");
    expect(await (await second).text()).toBe("abcd");
    expect(slow.accepted).toBe(2);
  });

  test("beyond maxIdlePerUpstream, released connections are closed", async () => {
    const s = raw((conn) => setTimeout(() => conn.write(OK_RESPONSE), 5));
    const c = client({ maxIdlePerUpstream: 1 });
    await Promise.all([1, 2, 3].map(async () => (await c.request(s.target, GET)).text()));
    expect(s.accepted).toBe(3);
    await until(() => s.closed === 2, "two surplus connections closed");
    expect(c.stats().idle).toBe(1);
  });

  test("idle connections are closed after idleTimeoutMs (and not before)", async () => {
    const clock = new FakeClock();
    const s = raw((conn) => conn.write(OK_RESPONSE));
    const c = client({ idleTimeoutMs: 1_000, clock });
    await (await c.request(s.target, GET)).text();
    clock.advance(749);
    expect(c.stats().idle).toBe(1);
    clock.advance(251);
    expect(c.stats().idle).toBe(0);
    await until(() => s.closed === 1, "server sees the idle close");
    await (await c.request(s.target, GET)).text();
    expect(s.accepted).toBe(2);
  });

  test("a server closing an idle keep-alive connection: it is discarded and the next request succeeds", async () => {
    const s = raw((conn, req) => {
      conn.write(OK_RESPONSE);
      if (req.seq === 1) setTimeout(() => conn.end(), 1);
    });
    const c = client();
    await (await c.request(s.target, GET)).text();
    await until(() => c.stats().idle === 0, "the client notices the close");
    expect(await (await c.request(s.target, GET)).text()).toBe("ok");
    expect(s.accepted).toBe(2);
    expect(c.stats().retries).toBe(0);
  });
});

describe("HTTP/1.1 pool: retry on a stale connection", () => {
  /** Connection 1 answers once, then drops the next request unanswered, as a server closing a keep-alive socket does. */
  function staleAfterFirst() {
    return raw((conn, req) => {
      if (conn.id === 1 && req.seq === 2) conn.destroy();
      else conn.write(OK_RESPONSE);
    });
  }

  test("a GET on a reused connection that dies before any response byte is retried once on a new connection", async () => {
    const s = staleAfterFirst();
    const c = client();
    await (await c.request(s.target, GET)).text();
    expect(await (await c.request(s.target, GET)).text()).toBe("ok");
    expect(s.accepted).toBe(2);
    expect(c.stats().retries).toBe(1);
  });

  test("a POST without a body is retried too (no body bytes were sent)", async () => {
    const s = staleAfterFirst();
    const c = client();
    await (await c.request(s.target, GET)).text();
    expect((await c.request(s.target, { method: "POST", path: "/" })).status).toBe(200);
    expect(c.stats().retries).toBe(1);
  });

  test("a POST whose body was sent is not retried: UpstreamError", async () => {
    const s = staleAfterFirst();
    const c = client();
    await (await c.request(s.target, GET)).text();
    const err = await c.request(s.target, { method: "POST", path: "/", body: "{}" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(s.accepted).toBe(1);
    expect(c.stats().retries).toBe(0);
  });

  test("a fresh connection that dies is not retried", async () => {
    const s = raw((conn) => conn.destroy());
    const c = client();
    expect(await c.request(s.target, GET).catch((e: unknown) => e)).toBeInstanceOf(UpstreamError);
    expect(s.accepted).toBe(1);
  });

  test("a reused connection that dies after part of the response is not retried", async () => {
    const s = raw((conn, req) => {
      if (req.seq === 1) conn.write(OK_RESPONSE);
      else {
        conn.write("HTTP/1.1 200 OK\r\ncont");
        setTimeout(() => conn.destroy(), 1);
      }
    });
    const c = client();
    await (await c.request(s.target, GET)).text();
    const err = await c.request(s.target, GET).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(s.accepted).toBe(1);
  });
});

describe("HTTP/1.1 pool: many requests, some abandoned", () => {
  test("600 requests, a third aborted at random points: all settle, and no connection is leaked or left busy", async () => {
    // Seeded so a failure replays the same schedule.
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const s = countingServer(async (req) => {
      const url = new URL(req.url);
      const delayMs = Number(url.searchParams.get("d"));
      if (url.pathname === "/stream") {
        return new Response(
          new ReadableStream({
            async pull(c) {
              await Bun.sleep(delayMs);
              c.enqueue(new TextEncoder().encode("x".repeat(1000)));
              if (random() < 0.3) c.close();
            },
          }),
        );
      }
      await Bun.sleep(delayMs);
      return new Response("y".repeat(Math.floor(random() * 5000)));
    });
    cleanups.push(s.stop);
    const c = client();
    const outcomes = { ok: 0, aborted: 0 };
    const one = async (i: number) => {
      const ac = new AbortController();
      const abortAfterMs = random() < 0.33 ? Math.floor(random() * 6) : -1;
      if (abortAfterMs >= 0) setTimeout(() => ac.abort(new Error("gave up")), abortAfterMs);
      const path = `/${i % 2 ? "stream" : "plain"}?d=${Math.floor(random() * 3)}`;
      try {
        const res = await c.request(s.target, { method: "GET", path, signal: ac.signal });
        await res.text();
        outcomes.ok++;
      } catch (err) {
        expect((err as Error).message).toBe("gave up");
        outcomes.aborted++;
      }
    };
    for (let wave = 0; wave < 10; wave++) await Promise.all(Array.from({ length: 60 }, (_, i) => one(wave * 60 + i)));
    expect(outcomes.ok + outcomes.aborted).toBe(600);
    expect(outcomes.aborted).toBeGreaterThan(50);
    expect(outcomes.ok).toBeGreaterThan(300);
    // Every connection that is still open is idle in the pool: none stuck mid-exchange.
    await until(() => c.stats().open === c.stats().idle, "aborted connections finish closing");
    expect(c.stats().idle).toBeGreaterThan(0);
    expect(c.stats().reusedRequests).toBeGreaterThan(300);
  });
});

describe("HTTP/1.1 pool: abort", () => {
  test("aborting mid-body errors the body with the signal's reason and the socket is never reused", async () => {
    const s = raw((conn, req) => {
      if (req.path === "/slow") conn.write("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nfirst");
      else conn.write(OK_RESPONSE);
    });
    const c = client();
    const ac = new AbortController();
    const res = await c.request(s.target, { method: "GET", path: "/slow", signal: ac.signal });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("first");
    const reason = new DOMException("client went away", "AbortError");
    ac.abort(reason);
    expect(await reader.read().catch((e: unknown) => e)).toBe(reason);
    await until(() => s.closed === 1, "aborted connection closed");
    expect(await (await c.request(s.target, GET)).text()).toBe("ok");
    expect(s.accepted).toBe(2);
  });

  test("cancelling the body stream (the downstream client left) closes the connection too", async () => {
    const s = raw((conn) => conn.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n"));
    const c = client();
    const res = await c.request(s.target, GET);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    await until(() => s.closed === 1, "cancelled connection closed");
    expect(c.stats().idle).toBe(0);
  });

  test("an already-aborted signal fails at once without connecting", async () => {
    const s = raw((conn) => conn.write(OK_RESPONSE));
    const reason = new Error("too late");
    const err = await client().request(s.target, { ...GET, signal: AbortSignal.abort(reason) }).catch((e: unknown) => e);
    expect(err).toBe(reason);
    expect(s.accepted).toBe(0);
  });
});
