import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Http1Server } from "../../../src/transport/http1/server.ts";
import { exchange, startEcho } from "./http1-wire.ts";

/**
 * The raw front against RFC 9112, case by case over a real socket: each case is the
 * request bytes and the outcome the RFC (or, where it leaves a choice, nginx/llhttp)
 * gives — the statuses answered in order, and whether the body reached the handler.
 * Every refusal closes the connection (nothing after a framing error can be trusted).
 */

let server: Http1Server;
beforeAll(() => {
  server = startEcho();
});
afterAll(async () => {
  await server.stop(true);
});

const H = "Host: x\r\n";
const get = (target = "/", extra = "") => `GET ${target} HTTP/1.1\r\n${H}${extra}\r\n`;
const chunkedPost = (body: string) => `POST /up HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${body}`;
const lengthPost = (cl: string, body: string) => `POST /up HTTP/1.1\r\n${H}Content-Length: ${cl}\r\n\r\n${body}`;

interface Case {
  name: string;
  parts: string[];
  /** Statuses in order. */
  statuses: number[];
  /** The bodies the handler received, for the 200s. */
  bodies?: string[];
  paths?: string[];
}

// chunk-size lines from the grammar: 1*HEXDIG [ chunk-ext ] CRLF, chunk-ext = *( ";" token [ "=" ( token / quoted-string ) ] )
const validChunkLines = ["5", "05", "0005", "000000000000000000005", "5;a", "5;a=b", "5;a=b;c", "5;a=\"q s\"", "5;a=\"x\\\"y\"", "5;n=1;m=\"\"", "5;!#$%&'*+-.^_`|~=v"];
const invalidChunkLines = [
  "5 xyz", "5 ", " 5", "5\t", "5 ;a", "5; a", "5;a =b", "5;a= b", "5;", "5;;a", "5;=b", "5;a=", "5;a=\"open", "5;a=b c",
  "5;a=\"x\x01\"", "5;a\x00", "-5", "+5", "0x5", "", "5z", "g", "10000000000000", // 14 significant digits
];

const cases: Case[] = [
  // request line forms (RFC 9112 §3)
  { name: "origin-form", parts: [get("/a/b?c=d")], statuses: [200], paths: ["/a/b?c=d"] },
  { name: "absolute-form: the path counts", parts: [get("http://other.example/a?b")], statuses: [200], paths: ["/a?b"] },
  { name: "absolute-form with userinfo", parts: [get("http://u@h/a")], statuses: [400] },
  { name: "absolute-form, another scheme", parts: [get("ftp://h/a")], statuses: [400] },
  { name: "authority-form outside CONNECT", parts: [get("h:80")], statuses: [400] },
  { name: "CONNECT is refused", parts: [`CONNECT h:443 HTTP/1.1\r\n${H}\r\n`], statuses: [501] },
  { name: "OPTIONS *", parts: [`OPTIONS * HTTP/1.1\r\n${H}\r\n`], statuses: [200], paths: ["*"] },
  { name: "asterisk-form outside OPTIONS", parts: [get("*")], statuses: [400] },
  { name: "two spaces", parts: [`GET  / HTTP/1.1\r\n${H}\r\n`], statuses: [400] },
  { name: "tab in target", parts: [`GET /a\tb HTTP/1.1\r\n${H}\r\n`], statuses: [400] },
  { name: "tab as separator", parts: [`GET\t/ HTTP/1.1\r\n${H}\r\n`], statuses: [400] },
  { name: "control byte in target", parts: [`GET /a\x01b HTTP/1.1\r\n${H}\r\n`], statuses: [400] },
  { name: "DEL in target", parts: [`GET /a\x7fb HTTP/1.1\r\n${H}\r\n`], statuses: [400] },
  { name: "obs-text in target", parts: [`GET /caf\xe9 HTTP/1.1\r\n${H}\r\n`], statuses: [400] },
  { name: "fragment in target", parts: [get("/a#b")], statuses: [400] },
  { name: "bad percent-encoding", parts: [get("/a%zz")], statuses: [400] },
  { name: "percent-encoding", parts: [get("/a%20b")], statuses: [200], paths: ["/a%20b"] },
  { name: "sub-delims and :@ in the target", parts: [get("/a!$&'()*+,;=:@b?x=/?")], statuses: [200] },
  { name: "method not a token", parts: [`G(T / HTTP/1.1\r\n${H}\r\n`], statuses: [400] },
  { name: "any token method reaches the handler (the gateway decides 405/501)", parts: [`PURGE / HTTP/1.1\r\n${H}\r\n`], statuses: [200] },
  { name: "HTTP/2.0 → 505", parts: [`GET / HTTP/2.0\r\n${H}\r\n`], statuses: [505] },
  { name: "malformed version", parts: [`GET / HTTP/1.1x\r\n${H}\r\n`], statuses: [400] },
  { name: "lower-case version", parts: [`GET / http/1.1\r\n${H}\r\n`], statuses: [400] },
  { name: "HTTP/1.0 without Host", parts: ["GET / HTTP/1.0\r\n\r\n"], statuses: [200] },
  // Host (RFC 9112 §3.2)
  { name: "HTTP/1.1 without Host", parts: ["GET / HTTP/1.1\r\n\r\n"], statuses: [400] },
  { name: "two Host lines", parts: [`GET / HTTP/1.1\r\n${H}${H}\r\n`], statuses: [400] },
  { name: "Host with a path", parts: ["GET /health HTTP/1.1\r\nHost: h/metrics?\r\n\r\n"], statuses: [400] },
  { name: "Host with userinfo", parts: ["GET / HTTP/1.1\r\nHost: u@h\r\n\r\n"], statuses: [400] },
  { name: "Host with a space", parts: ["GET / HTTP/1.1\r\nHost: h h\r\n\r\n"], statuses: [400] },
  { name: "Host with a port", parts: ["GET / HTTP/1.1\r\nHost: h:8080\r\n\r\n"], statuses: [200] },
  { name: "Host IPv6 literal", parts: ["GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"], statuses: [200] },
  { name: "empty Host", parts: ["GET / HTTP/1.1\r\nHost:\r\n\r\n"], statuses: [200] },
  // field syntax (RFC 9112 §5)
  { name: "space before colon", parts: [`GET / HTTP/1.1\r\n${H}X-A : b\r\n\r\n`], statuses: [400] },
  { name: "obs-fold", parts: [`GET / HTTP/1.1\r\n${H}X-A: b\r\n c\r\n\r\n`], statuses: [400] },
  { name: "no colon", parts: [`GET / HTTP/1.1\r\n${H}X-A\r\n\r\n`], statuses: [400] },
  { name: "empty name", parts: [`GET / HTTP/1.1\r\n${H}: b\r\n\r\n`], statuses: [400] },
  { name: "bad byte in name", parts: [`GET / HTTP/1.1\r\n${H}X[A]: b\r\n\r\n`], statuses: [400] },
  { name: "control byte in value", parts: [`GET / HTTP/1.1\r\n${H}X-A: b\x01c\r\n\r\n`], statuses: [400] },
  { name: "NUL in value", parts: [`GET / HTTP/1.1\r\n${H}X-A: b\x00c\r\n\r\n`], statuses: [400] },
  { name: "bare CR in value", parts: [`GET / HTTP/1.1\r\n${H}X-A: b\rc\r\n\r\n`], statuses: [400] },
  { name: "bare LF line ends", parts: ["GET / HTTP/1.1\nHost: x\n\n"], statuses: [400] },
  { name: "bare LF in one line", parts: [`GET / HTTP/1.1\r\nX-A: b\n${H}\r\n`], statuses: [400] },
  { name: "tab and obs-text in a value", parts: [`GET / HTTP/1.1\r\n${H}X-A: b\tc\xe9\r\n\r\n`], statuses: [200] },
  { name: "empty lines before the request line", parts: [`\r\n\r\n${get()}`], statuses: [200] },
  // Content-Length (RFC 9112 §6.3)
  { name: "Content-Length", parts: [lengthPost("5", "hello")], statuses: [200], bodies: ["hello"] },
  { name: "Content-Length with leading zeros", parts: [lengthPost("005", "hello")], statuses: [200], bodies: ["hello"] },
  { name: "Content-Length 0", parts: [lengthPost("0", "")], statuses: [200], bodies: [""] },
  { name: "Content-Length list", parts: [lengthPost("5, 5", "hello")], statuses: [400] },
  { name: "two Content-Length lines", parts: [`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`], statuses: [400] },
  { name: "Content-Length negative", parts: [lengthPost("-1", "")], statuses: [400] },
  { name: "Content-Length signed", parts: [lengthPost("+5", "hello")], statuses: [400] },
  { name: "Content-Length hex", parts: [lengthPost("0x5", "hello")], statuses: [400] },
  { name: "Content-Length with a space inside", parts: [lengthPost("5 5", "hello")], statuses: [400] },
  { name: "Content-Length empty", parts: [lengthPost("", "")], statuses: [400] },
  { name: "Content-Length and Transfer-Encoding", parts: [`POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`], statuses: [400] },
  // Transfer-Encoding (RFC 9112 §6.1, §7)
  { name: "Transfer-Encoding in any case", parts: [`POST / HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`], statuses: [200], bodies: ["hello"] },
  { name: "chunked not final", parts: [`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n`], statuses: [400] },
  { name: "chunked twice", parts: [`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`], statuses: [400] },
  { name: "chunked twice on two lines", parts: [`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`], statuses: [400] },
  { name: "another coding before chunked", parts: [`POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`], statuses: [501] },
  { name: "identity", parts: [`POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`], statuses: [400] },
  { name: "chunked with a parameter", parts: [`POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n`], statuses: [400] },
  { name: "Transfer-Encoding in HTTP/1.0", parts: [`POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`], statuses: [400] },
  // chunked framing (RFC 9112 §7.1)
  ...validChunkLines.map((line): Case => ({ name: `chunk size line ${JSON.stringify(line)}`, parts: [chunkedPost(`${line}\r\nhello\r\n0\r\n\r\n`)], statuses: [200], bodies: ["hello"] })),
  ...invalidChunkLines.map((line): Case => ({ name: `bad chunk size line ${JSON.stringify(line)}`, parts: [chunkedPost(`${line}\r\nhello\r\n0\r\n\r\n`)], statuses: [400] })),
  ...invalidChunkLines.map((line): Case => ({ name: `bad chunk size line ${JSON.stringify(line)} in a later read`, parts: [chunkedPost(""), `${line}\r\nhello\r\n0\r\n\r\n`], statuses: [400] })),
  { name: "bare CR after size", parts: [chunkedPost("5\rXhello\r\n0\r\n\r\n")], statuses: [400] },
  { name: "bare LF after size", parts: [chunkedPost("5\nhello\r\n0\r\n\r\n")], statuses: [400] },
  { name: "bare LF after data", parts: [chunkedPost("5\r\nhello\n0\r\n\r\n")], statuses: [400] },
  { name: "data longer than its size", parts: [chunkedPost("5\r\nhelloX\r\n0\r\n\r\n")], statuses: [400] },
  { name: "bare LF ending the last chunk", parts: [chunkedPost("5\r\nhello\r\n0\n\r\n")], statuses: [400] },
  { name: "bare LF ending the trailer section", parts: [chunkedPost("5\r\nhello\r\n0\r\n\n")], statuses: [400] },
  { name: "trailer", parts: [chunkedPost("5\r\nhello\r\n0\r\nX-T: v\r\n\r\n")], statuses: [200], bodies: ["hello"] },
  { name: "trailer ended by bare LF", parts: [chunkedPost("5\r\nhello\r\n0\r\nX-T: v\n\r\n")], statuses: [400] },
  { name: "trailer without colon", parts: [chunkedPost("5\r\nhello\r\n0\r\nX-T\r\n\r\n")], statuses: [400] },
  { name: "folded trailer", parts: [chunkedPost("5\r\nhello\r\n0\r\nX-T: v\r\n w\r\n\r\n")], statuses: [400] },
  { name: "several chunks", parts: [chunkedPost("2\r\nhe\r\n3;x=y\r\nllo\r\nA\r\n0123456789\r\n0\r\n\r\n")], statuses: [200], bodies: ["hello0123456789"] },
  { name: "chunk data split across reads", parts: [chunkedPost("5\r\nhe"), "llo\r", "\n0\r\n\r", "\n"], statuses: [200], bodies: ["hello"] },
  { name: "a size line over 4096 bytes in one read", parts: [chunkedPost(`5;a=${"b".repeat(5000)}\r\nhello\r\n0\r\n\r\n`)], statuses: [400] },
  { name: "a size line over 4096 bytes across reads", parts: [chunkedPost(`5;a=${"b".repeat(3000)}`), `${"b".repeat(3000)}\r\nhello\r\n0\r\n\r\n`], statuses: [400] },
  // pipelining: where the next request starts
  { name: "two requests in one write", parts: [get("/1") + get("/2")], statuses: [200, 200], paths: ["/1", "/2"] },
  { name: "a chunked body, then the next request", parts: [chunkedPost("5\r\nhello\r\n0\r\n\r\n") + get("/next")], statuses: [200, 200], bodies: ["hello", ""], paths: ["/up", "/next"] },
  { name: "a Content-Length body, then the next request", parts: [lengthPost("5", "hello") + get("/next")], statuses: [200, 200], paths: ["/up", "/next"] },
  { name: "a good request, then a bad one: answered, then 400 and close", parts: [get("/1") + "GET /a\x01 HTTP/1.1\r\n\r\n" + get("/3")], statuses: [200, 400] },
  { name: "bad chunked body: nothing after it is read", parts: [chunkedPost("5 x\r\nhello\r\n0\r\n\r\n") + get("/smuggled")], statuses: [400] },
  { name: "HTTP/1.0 closes after its answer", parts: ["GET /1 HTTP/1.0\r\n\r\n" + get("/2")], statuses: [200] },
  { name: "Connection: close ends it", parts: [get("/1", "Connection: close\r\n") + get("/2")], statuses: [200] },
];

describe("RFC 9112 conformance of the raw front (raw sockets)", () => {
  for (const c of cases) {
    test(c.name, async () => {
      const out = await exchange(server.port, c.parts);
      expect(out.answers.map((a) => a.status)).toEqual(c.statuses);
      // every refusal closes; the server closes after the client's FIN otherwise
      expect(out.closed).toBe(true);
      expect(out.rest).toBe("");
      const ok = out.answers.filter((a) => a.status === 200).map((a) => JSON.parse(a.body) as { path: string; body: string });
      if (c.bodies) expect(ok.map((o) => o.body)).toEqual(c.bodies);
      if (c.paths) expect(ok.map((o) => o.path)).toEqual(c.paths);
    });
  }

  test("Expect: 100-continue: 100 before the body is sent, then the answer", async () => {
    let text = "";
    const socket = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data(_s, b) { text += b.toString("latin1"); } } });
    socket.write(`POST /up HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n`);
    for (let i = 0; i < 500 && !text.includes("\r\n\r\n"); i++) await Bun.sleep(5);
    expect(text).toBe("HTTP/1.1 100 Continue\r\n\r\n");
    socket.write("hello");
    for (let i = 0; i < 500 && !text.includes('"body":"hello"'); i++) await Bun.sleep(5);
    expect(text).toContain('"body":"hello"');
    socket.end();
  });
});
