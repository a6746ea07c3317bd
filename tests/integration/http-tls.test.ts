// http_tls: every role's HTTP port (the gateway's front included) serves HTTPS with the
// configured certificate, and the roles' HTTP clients — the gateway's upstream pool, the
// active health probes, `bpm health` — verify their peers against the configured CA.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { authHeaders, json, runBpm, startBpm, tempDir, type BpmProcess } from "../support/bpm.ts";
import { makeTestCerts, type TestCerts } from "../support/tls.ts";

const ALL = ["gateway", "task-service", "form-service", "process-service"] as const;
let bpm: BpmProcess;
let certs: TestCerts;
const tlsConfig = (ca: string) => ({ enabled: true, cert_file: certs.files.cert, key_file: certs.files.key, ca_file: ca, server_name: "localhost" });

beforeAll(async () => {
  certs = makeTestCerts("bpm-https-");
  bpm = await startBpm({ config: { http_tls: tlsConfig(certs.files.ca) }, https: { ca: certs.pem.ca, roles: [...ALL] } });
});
afterAll(() => bpm?.stop());

async function rawPlaintext(port: number): Promise<string> {
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
  return Buffer.concat(received).toString("latin1");
}

describe("HTTPS on every HTTP port", () => {
  test("a client verifying the CA reaches a role through the gateway, which dials it over verified TLS", async () => {
    const gw = bpm.url("gateway");
    expect(gw).toStartWith("https://");
    const headers = { "content-type": "application/json", ...(await authHeaders(51)) };
    const created = await json(fetch(`${gw}/api/tasks`, { method: "POST", headers, body: JSON.stringify({ title: "over tls", user_id: 51 }), tls: { ca: certs.pem.ca } }));
    expect(created.status).toBe(201);
    const got = await json(fetch(`${gw}/api/tasks/${created.body.id}`, { headers, tls: { ca: certs.pem.ca } }));
    expect(got.status).toBe(200);
    expect(got.body.title).toBe("over tls");
    // the front's own routes answer over the same port
    expect((await fetch(`${gw}/health`, { tls: { ca: certs.pem.ca } })).status).toBe(200);
  });

  test("a client trusting another CA refuses every role's certificate", async () => {
    for (const role of ALL) await expect(fetch(`${bpm.url(role)}/health`, { tls: { ca: certs.pem.otherCa } })).rejects.toThrow();
  });

  test("plain HTTP on a TLS port gets no HTTP answer, and the port keeps serving HTTPS", async () => {
    for (const role of ALL) {
      const port = bpm.ports[role].http;
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
      expect(await rawPlaintext(port)).not.toContain("HTTP/1.");
      expect((await fetch(`${bpm.url(role)}/health`, { tls: { ca: certs.pem.ca } })).status).toBe(200);
    }
  });

  test("a gateway whose CA did not sign the roles' certificates gets no answer from them", async () => {
    const peers = { "task-service": bpm.ports["task-service"], "form-service": bpm.ports["form-service"], "process-service": bpm.ports["process-service"] };
    const other = await startBpm({ roles: ["gateway"], ports: peers, config: { http_tls: tlsConfig(certs.files.otherCa) }, https: { ca: certs.pem.ca, roles: ["gateway"] } });
    try {
      const headers = { "content-type": "application/json", ...(await authHeaders(52)) };
      const res = await json(fetch(`${other.url("gateway")}/api/tasks`, { method: "POST", headers, body: JSON.stringify({ title: "must not arrive", user_id: 52 }), tls: { ca: certs.pem.ca } }));
      expect([502, 503]).toContain(res.status);
      expect(typeof res.body.code).toBe("string");
      // nothing reached task-service
      const list = await json(fetch(`${bpm.url("gateway")}/api/tasks?user_id=52`, { headers, tls: { ca: certs.pem.ca } }));
      expect(list.body.items).toEqual([]);
    } finally {
      await other.stop();
    }
  });
});

describe("bpm health over HTTPS", () => {
  test("--ca verifies the port; without it, or with another CA, the check fails", async () => {
    const port = String(bpm.ports["task-service"].http);
    const ok = await runBpm(["health", "--port", port, "--ca", certs.files.ca, "--server-name", "localhost"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("UP");
    expect((await runBpm(["health", "--port", port], { env: { BPM_HEALTH_CA: certs.files.ca } })).code).toBe(0);
    expect((await runBpm(["health", "--port", port])).code).toBe(1);
    expect((await runBpm(["health", "--port", port, "--ca", certs.files.otherCa])).code).toBe(1);
    expect((await runBpm(["health", "--port", port, "--ca", certs.files.ca, "--server-name", "elsewhere.example"])).code).toBe(1);
  });
});

describe("http_tls config", () => {
  test.each([
    [{ enabled: true, key_file: "a.key", ca_file: "ca.crt" }, "http_tls.cert_file is required when http_tls.enabled is true"],
    [{ enabled: true, cert_file: "a.crt", ca_file: "ca.crt" }, "http_tls.key_file is required when http_tls.enabled is true"],
    [{ enabled: true, cert_file: "a.crt", key_file: "a.key" }, "http_tls.ca_file is required when http_tls.enabled is true"],
    [{ enabled: "yes" }, "http_tls.enabled must be true or false"],
    [{ enabled: true, cert_file: "a.crt", key_file: "a.key", ca_file: "ca.crt", server_name: "not a name" }, "http_tls.server_name must be a DNS name"],
  ])("%p exits 2 with one line naming the key", async (http_tls, message) => {
    const d = tempDir();
    const file = join(d, "tls.yaml");
    writeFileSync(file, JSON.stringify({ http_tls }));
    const r = await runBpm(["--config", file, "--data-dir", d, "--role=gateway"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toStartWith(`config: ${message}`);
  });

  test.each(["gateway", "task-service"])("a certificate file that cannot be read stops %s at start-up, naming the key", async (role) => {
    const d = tempDir();
    const file = join(d, "tls.yaml");
    writeFileSync(file, JSON.stringify({ http_tls: { enabled: true, cert_file: join(d, "missing.crt"), key_file: certs.files.key, ca_file: certs.files.ca } }));
    const r = await runBpm(["--config", file, "--data-dir", d, `--role=${role}`, "--port", "0", ...(role === "gateway" ? [] : ["--grpc-port", "0"])]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`http_tls.cert_file: cannot read ${join(d, "missing.crt")}`);
  });
});
