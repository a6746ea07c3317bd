// The pooled client over TLS: it writes only after the handshake verified the upstream's
// certificate against the configured CA (and name), and keeps verified connections alive.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { UpstreamError } from "../../../src/transport/http1/errors.ts";
import { Http1Client } from "../../../src/transport/http1/index.ts";
import type { Http1ClientTls } from "../../../src/transport/http1/types.ts";
import { makeTestCerts, type TestCerts } from "../../support/tls.ts";

let certs: TestCerts;
let server: Server<undefined>;
let target: { address: string; port: number };
const clients: Http1Client[] = [];
function client(tls?: Http1ClientTls): Http1Client {
  const c = new Http1Client(tls ? { tls } : {});
  clients.push(c);
  return c;
}

beforeAll(() => {
  certs = makeTestCerts();
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { cert: certs.pem.cert, key: certs.pem.key }, fetch: (req) => new Response(`hello ${new URL(req.url).pathname}`) });
  target = { address: "127.0.0.1", port: server.port! };
});
afterAll(() => {
  for (const c of clients) c.close();
  server?.stop(true);
});

describe("HTTP/1.1 client over TLS", () => {
  test("verifies the upstream against the CA, then reuses the connection", async () => {
    const c = client({ ca: certs.pem.ca });
    const a = await c.request(target, { method: "GET", path: "/a" });
    expect(a.status).toBe(200);
    expect(await a.text()).toBe("hello /a");
    const b = await c.request(target, { method: "GET", path: "/b" });
    expect(await b.text()).toBe("hello /b");
    expect(c.stats()).toMatchObject({ connectionsOpened: 1, reusedRequests: 1 });
  });

  test("checks the configured server name instead of the address dialled", async () => {
    const ok = await client({ ca: certs.pem.ca, serverName: "localhost" }).request(target, { method: "GET", path: "/n" });
    expect(await ok.text()).toBe("hello /n");
    const wrong = client({ ca: certs.pem.ca, serverName: "elsewhere.example" }).request(target, { method: "GET", path: "/" });
    await expect(wrong).rejects.toBeInstanceOf(UpstreamError);
    await expect(wrong).rejects.toThrow(/TLS handshake failed/);
  });

  test("refuses a certificate from another CA: 502 UpstreamError, nothing left open", async () => {
    const c = client({ ca: certs.pem.otherCa });
    const p = c.request(target, { method: "POST", path: "/", headers: new Headers({ "content-type": "text/plain" }), body: "secret" });
    await expect(p).rejects.toBeInstanceOf(UpstreamError);
    await expect(p).rejects.toThrow(/TLS handshake failed/);
    expect(c.stats().open).toBe(0);
  });

  test("without tls the client speaks plaintext, which a TLS upstream does not answer", async () => {
    await expect(client().request(target, { method: "GET", path: "/" })).rejects.toBeInstanceOf(UpstreamError);
  });
});
