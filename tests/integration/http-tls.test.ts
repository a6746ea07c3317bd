// http_tls: the gateway's client-facing front serves HTTPS with the configured certificate;
// clients verify it against the CA, and plaintext on the TLS port gets no HTTP answer.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { authHeaders, json, runBpm, startBpm, tempDir, type BpmProcess } from "../support/bpm.ts";

let bpm: BpmProcess;
let dir: string;
let ca: string;
const sh = (args: string[]) => {
  const r = Bun.spawnSync(args, { cwd: dir, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${args.join(" ")}: ${r.stderr.toString()}`);
};

beforeAll(async () => {
  dir = tempDir("bpm-https-");
  // a CA, and one certificate for 127.0.0.1 / localhost
  sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=bpm test CA"]);
  sh(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "role.key", "-out", "role.csr", "-subj", "/CN=127.0.0.1"]);
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  sh(["openssl", "x509", "-req", "-in", "role.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "role.crt", "-days", "1", "-extfile", "san.ext"]);
  sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.crt", "-days", "1", "-subj", "/CN=another CA"]);
  ca = readFileSync(join(dir, "ca.crt"), "utf8");
  bpm = await startBpm({
    config: { http_tls: { enabled: true, cert_file: join(dir, "role.crt"), key_file: join(dir, "role.key"), ca_file: join(dir, "ca.crt"), server_name: "localhost" } },
    https: { ca, roles: ["gateway"] },
  });
});
afterAll(() => bpm?.stop());

describe("HTTPS on the gateway's front", () => {
  test("a client verifying the CA reaches a role through the gateway over HTTPS", async () => {
    const gw = bpm.url("gateway");
    expect(gw).toStartWith("https://");
    const headers = { "content-type": "application/json", ...(await authHeaders(51)) };
    const created = await json(fetch(`${gw}/api/tasks`, { method: "POST", headers, body: JSON.stringify({ title: "over tls", user_id: 51 }), tls: { ca } }));
    expect(created.status).toBe(201);
    const got = await json(fetch(`${gw}/api/tasks/${created.body.id}`, { headers, tls: { ca } }));
    expect(got.status).toBe(200);
    expect(got.body.title).toBe("over tls");
    // the front's own routes answer over the same port
    expect((await fetch(`${gw}/health`, { tls: { ca } })).status).toBe(200);
  });

  test("a client trusting another CA refuses the certificate", async () => {
    const other = readFileSync(join(dir, "other.crt"), "utf8");
    await expect(fetch(`${bpm.url("gateway")}/health`, { tls: { ca: other } })).rejects.toThrow();
  });

  test("plain HTTP on the TLS port gets no HTTP answer, and the port keeps serving HTTPS", async () => {
    const port = bpm.ports.gateway.http;
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    // a raw plaintext request: the connection ends without any HTTP response bytes
    const received: Buffer[] = [];
    const closed = Promise.withResolvers<void>();
    await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(s) {
          s.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        },
        data(_s, buf) {
          received.push(Buffer.from(buf));
        },
        close() {
          closed.resolve();
        },
        error() {
          closed.resolve();
        },
      },
    });
    await closed.promise;
    expect(Buffer.concat(received).toString("latin1")).not.toContain("HTTP/1.");
    expect((await fetch(`${bpm.url("gateway")}/health`, { tls: { ca } })).status).toBe(200);
  });
});

describe("http_tls config", () => {
  test.each([
    [{ enabled: true, key_file: "a.key", ca_file: "ca.crt" }, "http_tls.cert_file is required when http_tls.enabled is true"],
    [{ enabled: true, cert_file: "a.crt", ca_file: "ca.crt" }, "http_tls.key_file is required when http_tls.enabled is true"],
    [{ enabled: true, cert_file: "a.crt", key_file: "a.key" }, "http_tls.ca_file is required when http_tls.enabled is true"],
    [{ enabled: "yes" }, "http_tls.enabled must be true or false"],
  ])("%p exits 2 with one line naming the key", async (http_tls, message) => {
    const d = tempDir();
    const file = join(d, "tls.yaml");
    writeFileSync(file, JSON.stringify({ http_tls }));
    const r = await runBpm(["--config", file, "--data-dir", d, "--role=gateway"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toStartWith(`config: ${message}`);
  });

  test("a certificate file that cannot be read stops the gateway at start-up, naming the key", async () => {
    const d = tempDir();
    const file = join(d, "tls.yaml");
    writeFileSync(file, JSON.stringify({ http_tls: { enabled: true, cert_file: join(d, "missing.crt"), key_file: join(dir, "role.key"), ca_file: join(dir, "ca.crt") } }));
    const r = await runBpm(["--config", file, "--data-dir", d, "--role=gateway"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`http_tls.cert_file: cannot read ${join(d, "missing.crt")}`);
  });
});
