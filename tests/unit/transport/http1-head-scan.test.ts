import { describe, expect, test } from "bun:test";
import { parseResponseHead, scanResponseHead, type ResponseHead } from "../../../src/transport/http1/response-head.ts";
import { WireFields, WireResponse } from "../../../src/transport/http1/wire-response.ts";
import { FlatHeaders } from "../../../src/transport/http1/flat-headers.ts";
import { parseRequestHead, scanRequestHead, type ParsedHead } from "../../../src/transport/http1/server-request.ts";

/**
 * 20,000 heads: a first line, then up to six field lines, each piece drawn from the
 * lists — mostly from their first (well-formed) entries, with the odd bad one, so
 * the scanners answer often enough to be compared.
 */
function randomHeads(seed: number, parts: { firsts: string[]; names: string[]; values: string[]; commonValues: number }): string[] {
  const seps = [": ", ":", " : ", ":\t", "\r\n "];
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = (list: string[], common: number): string => list[rand(4) === 0 ? rand(list.length) : rand(common)]!;
  const heads: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    let text = pick(parts.firsts, 3);
    const n = rand(7);
    for (let k = 0; k < n; k++) text += `\r\n${pick(parts.names, 4)}${pick(seps, 2)}${pick(parts.values, parts.commonValues)}`;
    heads.push(text);
  }
  return heads;
}

/** What both readers must agree on, fields materialized from the scanner's index. */
function viewOf(head: ResponseHead): unknown {
  const res = head.raw ? new WireResponse(head.status, head.raw, null, null) : new WireResponse(head.status, head.statusText, head.fields, null);
  return { status: head.status, statusText: res.statusText, fields: res.headers.fields, contentLength: head.contentLength, chunked: head.chunked, untilClose: head.untilClose, keepAlive: head.keepAlive };
}

/** The scanner reads `text` (a head without its blank line) from the middle of a buffer, as it sits in a socket read. */
function scan(text: string): ResponseHead | null {
  const buf = Buffer.from(`junk${text}\r\n\r\nbody`, "latin1");
  return scanResponseHead(buf, 4, 4 + text.length);
}

function parse(text: string): ResponseHead | Error {
  try {
    return parseResponseHead(text, true);
  } catch (err) {
    return err as Error;
  }
}

/** Where the scanner answers, it answers as the text parser does; where the parser refuses, the scanner never answers. */
function expectAgreement(text: string): ResponseHead | null {
  const scanned = scan(text);
  const parsed = parse(text);
  if (scanned !== null) {
    if (parsed instanceof Error) throw new Error(`scanner accepted what the parser refuses (${parsed.message}): ${JSON.stringify(text)}`);
    expect(viewOf(scanned)).toEqual(viewOf(parsed));
  }
  return scanned;
}

const ORDINARY = [
  "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-correlation-id: abc\r\ndate: Sun, 22 Nov 2026 04:00:00 GMT\r\ncontent-length: 253",
  "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 7",
  "HTTP/1.1 204 No Content",
  "HTTP/1.1 200",
  "HTTP/1.1 404 \r\ncontent-length: 0",
  "HTTP/1.0 200 OK\r\ncontent-length: 2",
  "HTTP/1.1 503 Service Unavailable\r\nretry-after: 3\r\nx-empty:\r\nx-ows:  \t spaced out \t \r\ncontent-length: 10",
  "HTTP/1.1 200 OK\r\nkeep-alive: timeout=5\r\nte: trailers\r\ntrailer: x\r\nupgrade: h2c\r\nproxy-authenticate: Basic\r\nproxy-connection: keep-alive\r\nx-kept: 1",
  "HTTP/1.1 200 Ok caf\u00e9 \u00ff\r\nx-latin1: na\u00efve\r\ncontent-length: 0",
  "HTTP/1.1 599 Whatever\r\nX-A: 1\r\nx-a: 2\r\nX-a: 3",
];

const REFUSED_OR_LEFT = [
  "HTTP/1.1 200 OK\r\nx-a: 1\nset-cookie: evil=1\r\ncontent-length: 0",
  "HTTP/1.1 200 OK\r\nx-a: 1\r\r\ncontent-length: 0",
  "HTTP/1.1 200 OK\r\nx-a: 1\u0000\r\ncontent-length: 0",
  "HTTP/1.1 200 OK\r\nx a: 1",
  "HTTP/1.1 200 OK\r\nx-a : 1",
  "HTTP/1.1 200 OK\r\n: 1",
  "HTTP/1.1 200 OK\r\nx-a: 1\r\n folded",
  "HTTP/1.1 200 OK\r\ncontent-length: 1x",
  "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2",
  "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 1",
  "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked",
  "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 5",
  "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0",
  "HTTP/1.1 200 OK\r\nconnection: x-private\r\nx-private: secret",
  "HTTP/1.1 200 OK\r\nx-a: \u000bvt\u000c",
  "HTTP/1.1 200 OK\r\nx-a: \u00a0nbsp\u00a0",
  "HTTP/1.1 600 Too High",
  "HTTP/1.1 099 Too Low",
  "HTTP/1.1 20 Short",
  "HTTP/1.1 200OK",
  "HTTP/2.0 200 OK",
  "HTTP/1.x 200 OK",
  "HTTP/1.1 200 O\u0000K",
  "ICY 200 OK",
];

describe("scanResponseHead (the proxy's in-place reading of a response head)", () => {
  test.each(ORDINARY)("reads an ordinary head as parseResponseHead does: %j", (text) => {
    expect(expectAgreement(text)).not.toBeNull();
  });

  test.each(REFUSED_OR_LEFT)("leaves a malformed or unusual head to parseResponseHead: %j", (text) => {
    expect(expectAgreement(text)).toBeNull();
  });

  test("agrees with parseResponseHead on 20,000 random heads made of tricky bytes", () => {
    const statuses = ["HTTP/1.1 200 OK", "HTTP/1.0 302 Found", "HTTP/1.1 204", "HTTP/1.1 500 Oops \u00e9", "HTTP/1.1 20x", "HTTP/1.1 200 O\rK"];
    const names = ["x-a", "X-B", "content-length", "Content-Length", "keep-alive", "connection", "te", "Transfer-Encoding", "set-cookie", "x a", "", "x(a", "proxy-connection"];
    const values = ["7", " 12 ", "12a", "", "chunked", "close", "v\u00e9", "\u00a0x", "a\u000b", "a=1; Path=/", "\t tab \t", "x\ny", "x\ry", "n\u0000l", "a: b"];
    const answered = randomHeads(12345, { firsts: statuses, names, values, commonValues: 3 }).filter((text) => expectAgreement(text) !== null).length;
    expect(answered).toBeGreaterThan(2_000);
  });
});

describe("WireFields over received lines", () => {
  const text = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Correlation-ID: up\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 7";
  const fresh = (): WireResponse => {
    const head = scan(text)!;
    return new WireResponse(head.status, head.raw!, null, Buffer.from('{"a":1}'));
  };

  test("get/has ignore the received case; several lines join with a comma", () => {
    const h = fresh().headers;
    expect(h.get("content-type")).toBe("application/json");
    expect(h.get("set-cookie")).toBe("a=1, b=2");
    expect(h.has("x-correlation-id")).toBe(true);
    expect(h.get("date")).toBeNull();
  });

  test("set replaces every received line of the name, append adds, delete hides; writeLines relays the rest byte for byte", () => {
    const res = fresh();
    const h = res.headers;
    h.set("x-correlation-id", "ours");
    h.append("set-cookie", "c=3");
    h.delete("content-type");
    expect(h.fields).toEqual(["set-cookie", "a=1", "set-cookie", "b=2", "content-length", "7", "x-correlation-id", "ours", "set-cookie", "c=3"]);
    const buf = Buffer.alloc(512);
    let o = res.writeStatusLine(buf, 0);
    o = h.writeLines(buf, o, "content-length");
    expect(o).toBe(res.statusLineLength() + h.byteLength("content-length"));
    expect(buf.toString("latin1", 0, o)).toBe("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nx-correlation-id: ours\r\nset-cookie: c=3\r\n");
  });

  test("a copy does not see later changes (the fallback cache keeps one)", () => {
    const h = fresh().headers;
    const kept = h.copy();
    h.set("x-fallback", "cache");
    h.delete("set-cookie");
    expect(kept.get("x-fallback")).toBeNull();
    expect(kept.get("set-cookie")).toBe("a=1, b=2");
  });

  test("a status line without a reason phrase goes out with the standard one", () => {
    const head = scan("HTTP/1.1 404\r\ncontent-length: 0")!;
    const res = new WireResponse(head.status, head.raw!, null, null);
    const buf = Buffer.alloc(64);
    const o = res.writeStatusLine(buf, 0);
    expect(buf.toString("latin1", 0, o)).toBe("HTTP/1.1 404 Not Found\r\n");
    expect(o).toBe(res.statusLineLength());
  });

  test("flat fields (a head the text parser read) work the same way", () => {
    const h = new WireFields(null, ["x-a", "1", "x-b", "2"]);
    h.set("x-a", "3");
    expect(h.fields).toEqual(["x-b", "2", "x-a", "3"]);
    expect(h.byteLength("x-b")).toBe("x-a: 3\r\n".length);
  });
});

/** The request side: `scanRequestHead` against `parseRequestHead`, the same way. */
function requestView(head: ParsedHead): unknown {
  return { method: head.method, target: head.target, minor: head.minor, fields: new FlatHeaders(head.raw ?? null, head.fields).fields };
}

function expectRequestAgreement(text: string): ParsedHead | null {
  const buf = Buffer.from(`${text}\r\n\r\nbody`, "latin1");
  const scanned = scanRequestHead(buf, text.length);
  let parsed: ParsedHead | Error;
  try {
    parsed = parseRequestHead(text);
  } catch (err) {
    parsed = err as Error;
  }
  if (scanned !== null) {
    if (parsed instanceof Error) throw new Error(`scanner accepted what the parser refuses (${parsed.message}): ${JSON.stringify(text)}`);
    expect(requestView(scanned)).toEqual(requestView(parsed));
  }
  return scanned;
}

describe("scanRequestHead (the raw front's in-place reading of a request head)", () => {
  test.each([
    "GET /api/tasks/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a.b.c\r\nX-Empty:\r\nX-Ows: \t v \t",
    "POST /api/tasks?x=1&y=%20 HTTP/1.0\r\ncontent-length: 5",
    "PURGE /a HTTP/1.1",
    "GET * HTTP/1.1\r\nx-latin1: na\u00efve \u00a0",
    "GET http://example.com/a?b HTTP/1.1\r\nhost: example.com",
  ])("reads an ordinary head as parseRequestHead does: %j", (text) => {
    expect(expectRequestAgreement(text)).not.toBeNull();
  });

  test.each([
    "GET /a HTTP/1.1\r\nx: 1\nevil: 1",
    "GET /a HTTP/1.1\r\nx: 1\r",
    "GET /a HTTP/1.1\r\nx: 1\u0000",
    "GET /a HTTP/1.1\r\n folded: 1",
    "GET /a HTTP/1.1\r\nx : 1",
    "GET /a HTTP/1.1\r\n: 1",
    "GET /a HTTP/2.0",
    "GET /a HTTP/1.1 extra",
    "GET  /a HTTP/1.1",
    "GET /a\tb HTTP/1.1",
    "GET /caf\u00e9 HTTP/1.1",
    "G(T /a HTTP/1.1",
    "GET",
  ])("leaves a malformed or unusual head to parseRequestHead: %j", (text) => {
    expect(expectRequestAgreement(text)).toBeNull();
  });

  test("agrees with parseRequestHead on 20,000 random heads", () => {
    const lines = ["GET /a HTTP/1.1", "POST /b?c=d HTTP/1.0", "DELETE /x HTTP/1.1", "GET /a HTTP/1.2", "GET /\u00e9 HTTP/1.1", "GET /a  HTTP/1.1"];
    const names = ["host", "Authorization", "x-a", "Content-Length", "x a", "", "x(a", "Connection"];
    const values = ["x", " 12 ", "", "v\u00e9", "\u000bvt", "a: b", "\t tab \t", "x\ny", "x\ry", "n\u0000l"];
    const answered = randomHeads(777, { firsts: lines, names, values, commonValues: 4 }).filter((text) => expectRequestAgreement(text) !== null).length;
    expect(answered).toBeGreaterThan(2_000);
  });
});
