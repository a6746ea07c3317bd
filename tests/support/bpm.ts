import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

export const REPO = resolve(import.meta.dir, "../..");
/** The compiled binary under test (scripts/test.sh builds it first). */
export const BPM_BIN = process.env.BPM_BIN ?? join(REPO, "bpm");
/** Every test process shares this secret (top-level `auth`, every role) so tests can mint tokens. */
export const TEST_SECRET = "bpm-test-secret-0123456789abcdef0123456789";

/** A bearer token every test role accepts (`sub: "service:<role>"` makes a service credential). */
export async function token(sub: string | number = "1", opts: { admin?: boolean; roles?: string[]; ttlSeconds?: number } = {}): Promise<string> {
  const { mintToken, AuthConfigSchema } = await import("../../src/platform/auth.ts");
  const v = await import("valibot");
  const cfg = v.parse(AuthConfigSchema, { secret: TEST_SECRET });
  return mintToken(TEST_SECRET, cfg, String(sub), opts.ttlSeconds ?? 3600, { admin: opts.admin ?? false, roles: opts.roles });
}

export async function authHeaders(sub: string | number = "1", admin = false, roles?: string[]): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await token(sub, { admin, roles })}` };
}

import { freePort } from "./ports.ts";
export { freePort };

export function tempDir(prefix = "bpm-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

type RoleName = "gateway" | "task-service" | "form-service" | "process-service";

export interface BpmOptions {
  roles?: RoleName[];
  /** YAML-able object deep-merged over the embedded default (ports are filled in). */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  dataDir?: string;
  args?: string[];
  /** Write the process's stdout (access log) to this file instead of collecting it (benchmarks: as nginx logs to a file). */
  stdoutFile?: string;
  /** Another binary than BPM_BIN (benchmarks compare builds). */
  bin?: string;
  /** Ports to reuse (e.g. on restart). */
  ports?: Partial<Record<RoleName, { http: number; grpc?: number }>>;
  /** These roles' HTTP ports serve HTTPS: url() says https and readiness verifies them with `ca` (PEM). */
  https?: { ca: string; roles: RoleName[] };
}

export interface BpmProcess {
  proc: Subprocess;
  dataDir: string;
  configPath: string;
  ports: Record<RoleName, { http: number; grpc?: number }>;
  url(role?: RoleName): string;
  output(): string;
  /** SIGTERM and wait; returns the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  kill(): Promise<void>;
}

const ALL: RoleName[] = ["gateway", "task-service", "form-service", "process-service"];

function toYaml(value: unknown, indent = ""): string {
  // JSON is valid YAML; one document per file is all we need
  return indent + JSON.stringify(value, null, 2);
}

/** Starts ./bpm with the given roles on free ports and waits until every /health answers. */
export async function startBpm(opts: BpmOptions = {}): Promise<BpmProcess> {
  const roles = opts.roles ?? ALL;
  const dataDir = opts.dataDir ?? tempDir();
  const ports = {} as Record<RoleName, { http: number; grpc?: number }>;
  const rolesCfg: Record<string, unknown> = {};
  for (const r of ALL) {
    const given = opts.ports?.[r];
    ports[r] = given ?? { http: await freePort(), grpc: r === "gateway" ? undefined : await freePort() };
    rolesCfg[r] = { port: ports[r].http, ...(ports[r].grpc ? { grpc_port: ports[r].grpc } : {}) };
  }
  const base = {
    roles: rolesCfg,
    http: { host: "127.0.0.1", shutdown_grace: "3s" },
    log: { level: "warn" },
    // a limit no load test reaches (wrk through a fast gateway passed 100k requests in 8 s with one token); rate-limit tests set their own
    auth: { secret: TEST_SECRET },
    gateway: { rate_limit: { requests: 100_000_000, window: "60s" }, access_log: false },
  };
  const cfg = deepMerge(base, opts.config ?? {});
  const configPath = join(dataDir, "test-config.yaml");
  writeFileSync(configPath, toYaml(cfg));
  let out = "";
  const proc = Bun.spawn([opts.bin ?? BPM_BIN, `--role=${roles.join(",")}`, "--config", configPath, "--data-dir", dataDir, ...(opts.args ?? [])], {
    env: { ...process.env, ...opts.env },
    stdout: opts.stdoutFile ? Bun.file(opts.stdoutFile) : "pipe",
    stderr: "pipe",
  });
  const pump = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of s) out += dec.decode(chunk);
  };
  if (!opts.stdoutFile) void pump(proc.stdout as ReadableStream<Uint8Array>);
  void pump(proc.stderr as ReadableStream<Uint8Array>);
  const scheme = (r: RoleName) => (opts.https?.roles.includes(r) ? "https" : "http");
  const handle: BpmProcess = {
    proc,
    dataDir,
    configPath,
    ports,
    url: (role = roles.includes("gateway") ? "gateway" : roles[0]!) => `${scheme(role)}://127.0.0.1:${ports[role].http}`,
    output: () => out,
    async stop(timeoutMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill("SIGTERM");
      const code = await Promise.race([proc.exited, Bun.sleep(timeoutMs).then(() => "timeout" as const)]);
      if (code === "timeout") {
        proc.kill("SIGKILL");
        throw new Error(`bpm did not exit within ${timeoutMs} ms of SIGTERM\n${out}`);
      }
      return code;
    },
    async kill() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
  running.add(handle);
  proc.exited.then(() => running.delete(handle));
  const deadline = Date.now() + 15_000;
  for (const r of roles) {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`bpm exited with ${proc.exitCode} before ${r} was healthy:\n${out}`);
      try {
        const res = await fetch(`${handle.url(r)}/health`, { signal: AbortSignal.timeout(1_000), ...(opts.https ? { tls: { ca: opts.https.ca } } : {}) });
        if (res.status === 200 || res.status === 503) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`bpm ${r} did not answer /health within 15 s:\n${out}`);
      }
      await Bun.sleep(25);
    }
  }
  return handle;
}

const running = new Set<BpmProcess>();
process.on("exit", () => {
  for (const p of running) p.proc.kill("SIGKILL");
});

export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = cur && v && typeof cur === "object" && typeof v === "object" && !Array.isArray(cur) && !Array.isArray(v) ? deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** Runs the binary to completion (for CLI tests). */
export async function runBpm(args: string[], opts: { cwd?: string; env?: Record<string, string>; bin?: string } = {}) {
  const proc = Bun.spawn([opts.bin ?? BPM_BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

export async function json<T = any>(res: Response | Promise<Response>): Promise<{ status: number; body: T; headers: Headers }> {
  const r = await res;
  const text = await r.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: r.status, body: body as T, headers: r.headers };
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

/** fetch with an admin token: /admin/* on every role needs one. */
export async function adminFetch(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...(await authHeaders(1, true)) } });
}

/** An admin who is also a designer: acts for any user a request names (docs/security.md). */
export function adminHeaders(): Promise<Record<string, string>> {
  return authHeaders(1, true, ["designer"]);
}
