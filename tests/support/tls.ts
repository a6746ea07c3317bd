import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./bpm.ts";

export interface TestCerts {
  dir: string;
  /** Paths of the CA, the 127.0.0.1/localhost certificate it signed and its key, and a CA that signed nothing. */
  files: { ca: string; cert: string; key: string; otherCa: string };
  /** The same, as PEM text. */
  pem: { ca: string; cert: string; key: string; otherCa: string };
}

/** A throwaway CA (openssl) and one certificate for IP 127.0.0.1 and DNS localhost. */
export function makeTestCerts(prefix = "bpm-tls-"): TestCerts {
  const dir = tempDir(prefix);
  const sh = (args: string[]) => {
    const r = Bun.spawnSync(args, { cwd: dir, stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${args.join(" ")}: ${r.stderr.toString()}`);
  };
  sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=bpm test CA"]);
  sh(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "role.key", "-out", "role.csr", "-subj", "/CN=127.0.0.1"]);
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  sh(["openssl", "x509", "-req", "-in", "role.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "role.crt", "-days", "1", "-extfile", "san.ext"]);
  sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.crt", "-days", "1", "-subj", "/CN=another CA"]);
  const files = { ca: join(dir, "ca.crt"), cert: join(dir, "role.crt"), key: join(dir, "role.key"), otherCa: join(dir, "other.crt") };
  const read = (f: string) => readFileSync(f, "utf8");
  return { dir, files, pem: { ca: read(files.ca), cert: read(files.cert), key: read(files.key), otherCa: read(files.otherCa) } };
}
