import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { METHODS } from "node:http";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { Http1Server } from "../../../src/transport/http1/server.ts";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { freePort } from "../../support/ports.ts";
import { toolPath } from "../../support/tools.ts";
import { exchange, startEcho, type Exchange } from "./http1-wire.ts";

/**
 * Differential fuzzing of the raw front against Node's llhttp (`node:http` in a child
 * process, the same echo handler): random and mutated requests, each sent to both, and
 * the two must agree on which requests were accepted, with which method and body — that
 * is, on accept/reject and on where each next request starts. A disagreement passes only
 * when it falls in a class listed in EXPLAINED, each with the reason bpm's answer is the
 * RFC's; anything else fails the test with the bytes that caused it.
 * Bounded (CASES) so it runs in seconds; the seed is fixed, so a failure reproduces.
 */

const CASES = Number(process.env.HTTP1_FUZZ_CASES ?? 600);
const SEED = Number(process.env.HTTP1_FUZZ_SEED ?? 20261207);

let bpm: Http1Server;
let node: Subprocess<"ignore", "pipe", "inherit">;
let nodePort = 0;
let nginx: Subprocess | undefined;
let nginxPort = 0;

beforeAll(async () => {
  bpm = startEcho();
  node = Bun.spawn([toolPath("node"), join(import.meta.dir, "../../peers/llhttp-echo.mjs")], { stdout: "pipe", stderr: "inherit" });
  const reader = node.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("node reference exited");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  nodePort = Number(text.trim());
  // nginx in front of the same node echo: its own parser decides what reaches the echo
  nginxPort = await freePort();
  const prefix = mkdtempSync(join(tmpdir(), "bpm-nginx-diff-"));
  writeFileSync(join(prefix, "nginx.conf"), `worker_processes 1; daemon off; pid ${prefix}/nginx.pid; error_log ${prefix}/error.log crit;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${prefix}; proxy_temp_path ${prefix}; fastcgi_temp_path ${prefix}; uwsgi_temp_path ${prefix}; scgi_temp_path ${prefix};
  upstream echo { server 127.0.0.1:${nodePort}; keepalive 8; }
  server { listen 127.0.0.1:${nginxPort};
    location / { proxy_pass http://echo; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_ignore_client_abort on; } } }`);
  nginx = Bun.spawn([toolPath("nginx"), "-p", prefix, "-c", join(prefix, "nginx.conf")], { stdout: "ignore", stderr: "inherit" });
  for (let i = 0; i < 200; i++) {
    const up = await fetch(`http://127.0.0.1:${nginxPort}/`).then((r) => r.ok, () => false);
    if (up) break;
    await Bun.sleep(25);
  }
});
afterAll(async () => {
  nginx?.kill();
  node?.kill();
  await bpm?.stop(true);
});

/** xorshift32: the same cases every run. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(a: readonly T[]): T => a[Math.floor(next() * a.length)]! };
}

const SEEDS: string[] = [
  "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
  "GET /p/q?x=1&y=%20 HTTP/1.1\r\nHost: a.example:8080\r\nAccept: */*\r\n\r\n",
  "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
  "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
  "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=v\r\nhe\r\n3;q=\"a b\"\r\nllo\r\n0\r\nX-T: 1\r\n\r\n",
  "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
  "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
  "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
  "POST /1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
  "GET / HTTP/1.0\r\n\r\n",
  "DELETE /t/1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
];

/** Bytes that matter to HTTP/1.1 framing, and a few that should not. */
const INTERESTING = [" ", "\t", "\r", "\n", "\r\n", ";", "=", '"', "\\", ":", ",", "0", "5", "a", "F", "\x00", "\x01", "\x7f", "\xff", "/", "?", "#", "%", "x"];
const LINES = ["Content-Length: 3", "Content-Length: 0", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip, chunked", "Host: b", "Connection: close", "Expect: 100-continue", " folded", "X: y"];

function mutate(input: string, r: ReturnType<typeof rng>): string {
  let s = input;
  const rounds = 1 + r.int(3);
  for (let k = 0; k < rounds; k++) {
    const at = r.int(s.length + 1);
    switch (r.int(7)) {
      case 0: s = s.slice(0, at) + r.pick(INTERESTING) + s.slice(at); break; // insert
      case 1: s = s.slice(0, at) + s.slice(at + 1); break; // delete
      case 2: s = s.slice(0, at) + r.pick(INTERESTING) + s.slice(at + 1); break; // replace
      case 3: { // a field line added after the request line
        const eol = s.indexOf("\r\n");
        if (eol > 0) s = `${s.slice(0, eol + 2)}${r.pick(LINES)}\r\n${s.slice(eol + 2)}`;
        break;
      }
      case 4: s = s.replace("\r\n", "\n"); break; // a bare LF somewhere framing depends on it
      case 5: { // a random hex size at a chunk-size position
        const i = s.indexOf("\r\n\r\n");
        if (i > 0 && s.includes("chunked")) s = `${s.slice(0, i + 4)}${r.int(16).toString(16)}${s.slice(i + 4)}`;
        break;
      }
      case 6: s = s.slice(0, at) + s.slice(at, at + 1).toUpperCase() + s.slice(at + 1); break;
    }
  }
  return s;
}

/** Random requests from the grammar's pieces. */
function generate(r: ReturnType<typeof rng>): string {
  // no HEAD: its answer has a length but no body, so the echo cannot show what was read
  const method = r.pick(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
  const target = r.pick(["/", "/a/b", "/q?x=1", "*", "http://h/x", "h:80", "/%41", "/a b"]);
  const version = r.pick(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/2.0"]);
  const fields: string[] = [];
  if (r.next() < 0.9) fields.push(`Host: ${r.pick(["a", "a:1", "[::1]", "", "a b", "a/b"])}`);
  if (r.next() < 0.2) fields.push("Host: second");
  let body = "";
  const framing = r.int(4);
  if (framing === 1) {
    const n = r.int(8);
    body = "b".repeat(n);
    fields.push(`Content-Length: ${r.pick([String(n), `0${n}`, `${n}, ${n}`, `+${n}`])}`);
  } else if (framing === 2) {
    fields.push(`Transfer-Encoding: ${r.pick(["chunked", "chunked", "Chunked", "gzip, chunked", "chunked, chunked"])}`);
    const chunks = r.int(3);
    for (let i = 0; i < chunks; i++) {
      const n = 1 + r.int(10);
      const ext = r.pick(["", "", ";a", ";a=b", ';a="c"', "; a", ";a=b c", " ", "\t"]);
      body += `${r.pick(["", "0", "00"])}${n.toString(16)}${ext}\r\n${"c".repeat(n)}\r\n`;
    }
    body += `0\r\n${r.pick(["", "", "T: v\r\n", "T v\r\n"])}\r\n`;
  }
  const head = `${method} ${target} ${version}\r\n${fields.map((f) => `${f}\r\n`).join("")}\r\n`;
  return head + body + (r.next() < 0.3 ? "GET /next HTTP/1.1\r\nHost: a\r\n\r\n" : "");
}

interface Verdict {
  /** Accepted requests in order: method and body as the handler saw them. */
  accepted: string[];
  /** Something after them was refused or left unanswered. */
  refused: boolean;
  /** The body of the refusal, when there was one (bpm's names the reason). */
  refusal: string;
}

function verdict(x: Exchange): Verdict {
  const accepted: string[] = [];
  let refused = x.rest !== "";
  let refusal = "";
  for (const a of x.answers) {
    if (a.status === 100) continue;
    if (a.status !== 200) {
      refused = true;
      refusal = a.body;
      break;
    }
    try {
      const e = JSON.parse(a.body) as { method: string; body: string };
      accepted.push(`${e.method} ${JSON.stringify(e.body)}`);
    } catch {
      refused = true;
      break;
    }
  }
  return { accepted, refused, refusal };
}

const KNOWN = new Set(METHODS);
const TARGET_BAD = /[\x00-\x20\x7f-\xff#"<>\\^`{|}]|%(?![0-9A-Fa-f]{2})/;

/**
 * Disagreement classes, each with its reason and its direction: "stricter" classes apply only
 * when bpm accepted a prefix of what llhttp accepted (bpm refused more), "lenient" ones only
 * when bpm accepted more.
 */
const EXPLAINED: { name: string; why: string; dir: "stricter" | "lenient"; applies(req: string, bpm: Verdict, ref: Verdict): boolean }[] = [
  {
    name: "method-not-in-llhttp-table",
    dir: "lenient",
    why: "RFC 9110 §9.1: a method is any token; llhttp knows a fixed list. bpm's library passes it on and the gateway answers 501 itself, never forwarding it.",
    // the first request bpm accepted beyond the reference's has such a method (the reference closed there)
    applies: (_req, bpm, ref) => { const a = bpm.accepted[ref.accepted.length]!; return !KNOWN.has(a.slice(0, a.indexOf(" "))); },
  },
  {
    name: "target-bytes",
    dir: "stricter",
    why: "RFC 9112 §3.2 / RFC 3986: a target has no fragment, no obs-text, no \" < > \\ ^ ` { | }, and % is followed by two hex digits; llhttp passes these bytes on.",
    applies: (req) => req.split(/\r?\n/).some((l) => { const m = /^\S+ (\S+) HTTP/.exec(l); return m !== null && TARGET_BAD.test(m[1]!); }),
  },
  {
    name: "asterisk-form-outside-options",
    dir: "stricter",
    why: "RFC 9112 §3.2.4: the asterisk-form is only for OPTIONS; llhttp takes `GET *`.",
    applies: (req) => /^(?!OPTIONS )\S+ \* /m.test(req),
  },
  {
    name: "http-version",
    dir: "stricter",
    why: "RFC 9112 §2.3, RFC 9110 §15.6.6: an HTTP/1.1 server answers another major version (or 1.2+) with 505; llhttp parses HTTP/2.0 and 1.2 request lines as if they were 1.1.",
    applies: (req) => /^\S+ \S+ HTTP\/(?!1\.[01]\r?\n)\d\.\d/m.test(req),
  },
  {
    name: "chunk-extension-grammar",
    dir: "stricter",
    why: "RFC 9112 §7.1.1: chunk-ext = *( \";\" chunk-ext-name [ \"=\" chunk-ext-val ] ), names and unquoted values 1*tchar; llhttp takes an empty name or value, bpm refuses them.",
    applies: (_req, bpm) => /chunk extension/.test(bpm.refusal),
  },
  {
    name: "request-line-without-version",
    dir: "stricter",
    why: "RFC 9112 §3: request-line = method SP request-target SP HTTP-version; llhttp still reads an HTTP/0.9 line (no version) as a request.",
    applies: (req) => { const first = req.split(/\r?\n/)[0] ?? ""; return !/^\S+ \S+ \S+$/.test(first); },
  },
  {
    name: "host-value",
    dir: "stricter",
    why: "RFC 9112 §3.2: a Host that is not uri-host [\":\" port] (or more than one Host line) → 400; llhttp only checks that one is there.",
    applies: (req) => { const hosts = req.split(/\r?\n/).filter((l) => /^host:/i.test(l)); return hosts.length > 1 || hosts.some((h) => !/^host:[ \t]*(?:\[[0-9A-Za-z:.]+\]|(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?[ \t]*$/i.test(h)); },
  },
  {
    name: "transfer-coding-before-chunked",
    dir: "stricter",
    why: "RFC 9112 §6.1: bpm decodes only chunked; another coding is 501 (RFC 9110 §15.6.2), and chunked twice is 400. llhttp drops the other coding's meaning.",
    applies: (req) => /transfer-encoding:[^\r\n]*(?:,|;)/i.test(req) || (req.match(/transfer-encoding:/gi)?.length ?? 0) > 1,
  },
  {
    name: "transfer-encoding-in-http-1.0",
    dir: "stricter",
    why: "RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding is treated as faulty framing; bpm refuses it (400), llhttp decodes chunked anyway.",
    applies: (req) => /^\S+ \S+ HTTP\/1\.0\r?\n(?:[^\r\n]+\r?\n)*transfer-encoding:/im.test(req),
  },
  {
    name: "unknown-expectation",
    dir: "lenient",
    why: "RFC 9110 §10.1.1: a server MAY answer an expectation other than a lone 100-continue with 417; node does (nginx refuses a repeated Expect), bpm ignores it.",
    applies: (req) => /\nexpect:(?![ \t]*100-continue[ \t]*\r?\n)/i.test(req) || (req.match(/\nexpect:/gi)?.length ?? 0) > 1,
  },
  {
    name: "control-byte-in-field-value",
    dir: "stricter",
    why: "RFC 9110 §5.5: a field value holds no control byte but HTAB; llhttp lets some through.",
    applies: (req) => /\n[^\r\n:]+:[^\r\n]*[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(req),
  },
  {
    name: "absolute-form-scheme",
    dir: "stricter",
    why: "RFC 9112 §3.2.2: bpm accepts absolute-form only for http/https with no userinfo; llhttp takes any scheme.",
    applies: (req) => /^\S+ [A-Za-z][A-Za-z0-9+.-]*:/m.test(req) && !/^\S+ https?:\/\/[^/?@\s]+/im.test(req),
  },
];

type Class = (typeof EXPLAINED)[number];

/** Where nginx (1.22, its defaults) lets through what bpm refuses, or the reverse; each with its reason. */
const NGINX_EXPLAINED: readonly Class[] = [
  ...EXPLAINED.filter((e) => ["target-bytes", "host-value", "http-version", "control-byte-in-field-value", "asterisk-form-outside-options", "request-line-without-version", "transfer-encoding-in-http-1.0", "absolute-form-scheme", "unknown-expectation"].includes(e.name)),
  // nginx passes a method it does not know on; the echo behind it is node's, whose llhttp refuses it
  ...EXPLAINED.filter((e) => e.name === "method-not-in-llhttp-table"),
  {
    name: "invalid-field-line",
    dir: "stricter",
    why: "RFC 9112 §5, §7.1.2: a field line (in the head or the trailer section) is `field-name \":\" OWS field-value OWS`; nginx drops a line that is not, bpm refuses the request as llhttp does.",
    applies: (req) => {
      const bad = (lines: string[]) => lines.some((l) => l !== "" && !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:/.test(l));
      const head = req.slice(0, req.search(/\r?\n\r?\n/)).split(/\r?\n/).slice(1);
      const last = req.indexOf("\r\n0\r\n");
      const trailers = last < 0 ? [] : req.slice(last + 5, req.indexOf("\r\n\r\n", last + 3) + 2).split("\r\n");
      return bad(head) || bad(trailers);
    },
  },
  {
    name: "chunk-line-whitespace",
    dir: "stricter",
    why: "RFC 9112 §7.1.1: chunk-size is 1*HEXDIG and extensions start with \";\"; nginx skips whitespace and anything up to the line end, bpm (as llhttp) refuses it.",
    applies: (req) => /chunked/i.test(req) && /\r\n[0-9a-fA-F]+[^\r\n]*[ \t]/.test(req.slice(req.indexOf("\r\n\r\n"))),
  },
  {
    name: "bare-lf-line-end",
    dir: "stricter",
    why: "RFC 9112 §2.2 lets a recipient accept a bare LF as a line end and treat a bare CR as SP (MAY); nginx does, bpm (as llhttp) refuses both, in the head and in chunked framing: a parser behind or in front that reads lines differently is how requests get smuggled.",
    applies: (req, bpm) => /(^|[^\r])\n/.test(req) || /bare CR|bare LF|CRLF/.test(bpm.refusal),
  },
  {
    name: "htab-ows",
    dir: "lenient",
    why: "RFC 9110 §5.6.3, RFC 9112 §5: OWS is *( SP / HTAB ) and is not part of a field's value, so a tab after the colon or at the line's end is whitespace; nginx refuses some of those (a Host ending in a tab), bpm accepts them.",
    applies: (req) => /\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[ ]*\t/.test(req) || /\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*\t\r?\n/.test(req),
  },
  {
    name: "options-asterisk",
    dir: "lenient",
    why: "RFC 9112 §3.2.4: `OPTIONS *` is a valid request for the server as a whole; nginx refuses the asterisk-form, bpm answers it.",
    applies: (req) => /^OPTIONS \* /m.test(req),
  },
  {
    name: "empty-host",
    dir: "lenient",
    why: "RFC 9110 §7.2, RFC 3986 §3.2.2: Host may be empty (uri-host may be an empty reg-name, with or without an empty port); nginx refuses it, bpm accepts it.",
    applies: (req) => /\nhost:[ \t]*(?::[0-9]*)?[ \t]*\r?\n/i.test(req),
  },
];

/** Runs the cases against bpm and a reference; returns the summary line and the unexplained disagreements. */
async function differential(refPort: number, classes: readonly Class[], seed: number) {
  const r = rng(seed);
  const cases: string[] = [];
  for (let i = 0; i < CASES; i++) cases.push(i % 3 === 0 ? generate(r) : mutate(r.pick(SEEDS), r));
  const disagreements: { req: string; bpm: Verdict; ref: Verdict; class?: string }[] = [];
  let agreed = 0;
  const run = async (req: string) => {
    const [b, n] = await Promise.all([exchange(bpm.port, [req], { waitMs: 3000 }), exchange(refPort, [req], { waitMs: 3000 })]);
    const vb = verdict(b);
    const vn = verdict(n);
    // the same requests accepted, in the same order, with the same bodies: the same boundaries
    // (a refusal and a silent close of what is left count alike)
    if (JSON.stringify(vb.accepted) === JSON.stringify(vn.accepted)) {
      agreed++;
      return;
    }
    const prefix = (a: string[], b: string[]) => a.length < b.length && a.every((x, i) => b[i] === x);
    const dir = prefix(vb.accepted, vn.accepted) ? "stricter" : prefix(vn.accepted, vb.accepted) ? "lenient" : "different";
    const cls = classes.find((e) => e.dir === dir && e.applies(req, vb, vn));
    disagreements.push({ req, bpm: vb, ref: vn, class: cls?.name });
  };
  const queue = [...cases];
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let req = queue.shift(); req !== undefined; req = queue.shift()) await run(req);
  }));
  const byClass = new Map<string, number>();
  for (const d of disagreements) byClass.set(d.class ?? "UNEXPLAINED", (byClass.get(d.class ?? "UNEXPLAINED") ?? 0) + 1);
  const summary = `${CASES} cases, ${agreed} agree, ${disagreements.length} disagree: ${JSON.stringify(Object.fromEntries(byClass))}`;
  return { summary, agreed, unexplained: disagreements.filter((d) => d.class === undefined) };
}

function report(name: string, out: Awaited<ReturnType<typeof differential>>): void {
  console.log(`differential vs ${name}: ${out.summary}`);
  for (const d of out.unexplained.slice(0, 20)) console.log("UNEXPLAINED", JSON.stringify(d.req), "bpm", JSON.stringify(d.bpm), name, JSON.stringify(d.ref));
}

describe("differential: bpm's raw front vs independent parsers", () => {
  test(`llhttp (node:http): ${CASES} random and mutated requests, same accepted requests, same boundaries`, async () => {
    const out = await differential(nodePort, EXPLAINED, SEED);
    report("llhttp", out);
    expect(out.unexplained.length).toBe(0);
    expect(out.agreed).toBeGreaterThan(CASES / 2);
  }, 120_000);

  test(`nginx (proxying to the same echo): ${CASES} random and mutated requests, same accepted requests, same boundaries`, async () => {
    const out = await differential(nginxPort, NGINX_EXPLAINED, SEED + 1);
    report("nginx", out);
    expect(out.unexplained.length).toBe(0);
    expect(out.agreed).toBeGreaterThan(CASES / 2);
  }, 120_000);
});
