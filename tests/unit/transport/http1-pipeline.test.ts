import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../../src/platform/clock.ts";
import { UpstreamTimeoutError } from "../../../src/transport/http1/errors.ts";
import { PIPELINE_BACKOFF_MS } from "../../../src/transport/http1/client.ts";
import { PUBLIC_API } from "../../../src/roles/catalog.ts";
import { streamedRoutes } from "../../../src/roles/gateway/openapi.ts";
import { matchRoute, routeTemplate } from "../../../src/roles/gateway/routes.ts";
import { perTest, type RawConn, until } from "./http1-servers.ts";

// HTTP/1.1 pipelining in the pooled client (docs/http-transport.md "Pipelining"): requests that
// start in one loop turn share a connection and leave in one write; answers come back in order.

const { cleanups, client, raw } = perTest();
const ok = (body: string) => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
/** Each request answered at once with its own path as the body. */
const echoPath = (conn: RawConn, req: { path: string }) => conn.write(ok(req.path));

describe("HTTP/1.1 pool: pipelining", () => {
  test("GETs started in one turn go out in one write on one connection and each gets its own answer", async () => {
    const s = raw(echoPath);
    const c = client({ pipelineDepth: 8 });
    expect(await (await c.request(s.target, { method: "GET", path: "/warm" })).text()).toBe("/warm");
    const paths = ["/a", "/b", "/c", "/d", "/e"];
    const bodies = await Promise.all(paths.map(async (path) => (await c.request(s.target, { method: "GET", path })).text()));
    expect(bodies).toEqual(paths);
    expect(s.accepted).toBe(1);
    expect(c.stats()).toMatchObject({ pipelined: 4, batchedWrites: 1, connectionsOpened: 1, idle: 1 });
  });

  test("answers that arrive together in one read are split in order: length, chunked, HEAD, 204", async () => {
    const held: RawConn[] = [];
    const answers: string[] = [];
    const s = raw((conn, req) => {
      if (req.path === "/warm") return void conn.write(ok("warm"));
      held.push(conn);
      if (req.path === "/len") answers.push(ok("length-framed"));
      else if (req.path === "/chunked") answers.push("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
      else if (req.method === "HEAD") answers.push("HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n");
      else if (req.path === "/empty") answers.push("HTTP/1.1 204 No Content\r\n\r\n");
      else answers.push(ok("last"));
      // all five answers in one write once the fifth request is in
      if (answers.length === 5) conn.write(answers.join(""));
    });
    const c = client({ pipelineDepth: 8 });
    await (await c.request(s.target, { method: "GET", path: "/warm" })).text();
    const [len, chunked, head, empty, last] = await Promise.all([
      c.request(s.target, { method: "GET", path: "/len" }),
      c.request(s.target, { method: "GET", path: "/chunked" }),
      c.request(s.target, { method: "HEAD", path: "/head" }),
      c.request(s.target, { method: "GET", path: "/empty" }),
      c.request(s.target, { method: "GET", path: "/last" }),
    ]);
    expect(await len!.text()).toBe("length-framed");
    expect(await chunked!.text()).toBe("hello world");
    expect(head!.headers.get("content-length")).toBe("99");
    expect(await head!.text()).toBe("");
    expect(empty!.status).toBe(204);
    expect(await last!.text()).toBe("last");
    expect(new Set(held).size).toBe(1);
    // the connection is still good for the next request
    expect(await (await c.request(s.target, { method: "GET", path: "/warm" })).text()).toBe("warm");
    expect(s.accepted).toBe(1);
  });

  test("the depth bounds the requests per connection; more open or fill other connections", async () => {
    const s = raw(echoPath);
    const c = client({ pipelineDepth: 2 });
    // two idle connections
    await Promise.all(["/w1", "/w2"].map(async (path) => (await c.request(s.target, { method: "GET", path })).text()));
    expect(c.stats().idle).toBe(2);
    const paths = ["/1", "/2", "/3", "/4", "/5"];
    const bodies = await Promise.all(paths.map(async (path) => (await c.request(s.target, { method: "GET", path })).text()));
    expect(bodies).toEqual(paths);
    // two pairs on the idle connections, the fifth on a new one
    expect(s.accepted).toBe(3);
    expect(c.stats()).toMatchObject({ pipelined: 2, batchedWrites: 2 });
  });

  test("requests with a body, other methods and Connection: close are never pipelined", async () => {
    const s = raw(echoPath);
    const c = client({ pipelineDepth: 8 });
    await (await c.request(s.target, { method: "GET", path: "/warm" })).text();
    const bodies = await Promise.all([
      c.request(s.target, { method: "GET", path: "/g1" }).then((r) => r.text()),
      c.request(s.target, { method: "POST", path: "/p", body: "x" }).then((r) => r.text()),
      c.request(s.target, { method: "DELETE", path: "/d" }).then((r) => r.text()),
      c.request(s.target, { method: "GET", path: "/close", headers: ["connection", "close"] }).then((r) => r.text()),
      c.request(s.target, { method: "GET", path: "/off", pipeline: false }).then((r) => r.text()),
      c.request(s.target, { method: "GET", path: "/g2" }).then((r) => r.text()),
    ]);
    expect(bodies).toEqual(["/g1", "/p", "/d", "/close", "/off", "/g2"]);
    // /g1 and /g2 shared the warm connection; the other four had one each
    expect(c.stats().pipelined).toBe(1);
    expect(s.accepted).toBe(5);
  });

  test("the gateway's event-stream routes are named by the same template its requests get", () => {
    expect([...streamedRoutes(PUBLIC_API)]).toContain(routeTemplate(matchRoute("/api/tasks/stream")!, "/api/tasks/stream"));
  });

  test("Bun.serve with an async handler closes pipelined connections: every request still succeeds, and pipelining pauses for that upstream", async () => {
    const clock = new FakeClock();
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        await Bun.sleep(1);
        return new Response(new URL(req.url).pathname);
      },
    });
    cleanups.push(() => server.stop(true));
    const target = { address: "127.0.0.1", port: server.port! };
    const c = client({ pipelineDepth: 8, clock });
    const wave = (tag: string) => Promise.all([1, 2, 3, 4].map(async (i) => (await c.request(target, { method: "GET", path: `/${tag}${i}` })).text()));
    await (await c.request(target, { method: "GET", path: "/warm" })).text();
    expect(await wave("a")).toEqual(["/a1", "/a2", "/a3", "/a4"]);
    const first = c.stats();
    expect(first.pipelineRefusals).toBe(1);
    expect(first.retries).toBeGreaterThanOrEqual(4);
    // paused: the next wave goes one request per connection
    expect(await wave("b")).toEqual(["/b1", "/b2", "/b3", "/b4"]);
    expect(c.stats()).toMatchObject({ pipelined: first.pipelined, pipelineRefusals: 1 });
    // after the pause it is tried again (and refused again by this server)
    clock.advance(PIPELINE_BACKOFF_MS); // the idle sweeper closes the idle connections on the way
    await (await c.request(target, { method: "GET", path: "/warm" })).text();
    expect(await wave("c")).toEqual(["/c1", "/c2", "/c3", "/c4"]);
    expect(c.stats().pipelineRefusals).toBe(2);
  });

  test("a server that answers one and then closes: the requests behind it go again on new connections", async () => {
    const s = raw((conn, req) => {
      if (req.path === "/warm") return void conn.write(ok("warm"));
      if (req.seq === 2) {
        // first pipelined request on the warm connection: answer it and close
        conn.write(`HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: ${req.path.length}\r\n\r\n${req.path}`);
        conn.end();
        return;
      }
      if (req.seq > 2) return; // the closing connection ignores the rest
      conn.write(ok(req.path));
    });
    const c = client({ pipelineDepth: 8 });
    await (await c.request(s.target, { method: "GET", path: "/warm" })).text();
    const paths = ["/a", "/b", "/c"];
    expect(await Promise.all(paths.map(async (path) => (await c.request(s.target, { method: "GET", path })).text()))).toEqual(paths);
    expect(c.stats()).toMatchObject({ pipelineRefusals: 0, retries: 2 });
  });

  test("a pipelined request that times out fails alone; the one waiting behind it is sent again and answered", async () => {
    const stuck = new Set<RawConn>();
    const s = raw((conn, req) => {
      // never answered, and (answers being in order) nothing after it on that connection either
      if (req.path === "/slow") stuck.add(conn);
      if (!stuck.has(conn)) conn.write(ok(req.path));
    });
    const c = client({ pipelineDepth: 8 });
    await (await c.request(s.target, { method: "GET", path: "/warm" })).text();
    const slow = c.request(s.target, { method: "GET", path: "/slow", timeoutMs: 50 });
    const fast = c.request(s.target, { method: "GET", path: "/fast" });
    await expect(slow).rejects.toBeInstanceOf(UpstreamTimeoutError);
    expect(await (await fast).text()).toBe("/fast");
    expect(c.stats()).toMatchObject({ pipelined: 1, retries: 1 });
    // /fast went twice: behind /slow on the first connection, then alone on a new one
    expect(s.requests.filter((r) => r.path === "/fast").length).toBe(2);
  });

  test("a caller that aborts a request waiting behind another: it fails with the reason, the one ahead is sent again", async () => {
    const held = new Set<RawConn>();
    const s = raw((conn, req) => {
      // the first connection holds its answers (in order: nothing after /first either); later ones answer at once
      if (req.path === "/first" && req.seq === 2) held.add(conn);
      if (!held.has(conn)) conn.write(ok(req.path));
    });
    const c = client({ pipelineDepth: 8 });
    await (await c.request(s.target, { method: "GET", path: "/warm" })).text();
    const controller = new AbortController();
    const first = c.request(s.target, { method: "GET", path: "/first" });
    const second = c.request(s.target, { method: "GET", path: "/second", signal: controller.signal });
    // both are on the held connection: /second waits behind /first
    await until(() => s.requests.some((r) => r.path === "/second"), "/second reaching the server");
    controller.abort(new Error("caller went away"));
    await expect(second).rejects.toThrow("caller went away");
    expect(await (await first).text()).toBe("/first");
    expect(held.size).toBe(1);
    expect(s.requests.map((r) => r.path)).toEqual(["/warm", "/first", "/second", "/first"]);
  });
});
