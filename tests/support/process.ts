// Child servers for tests: logged to a temp file, killed when the test process exits.
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

type ExitSignal = "SIGKILL" | "SIGQUIT";
const live = new Map<Subprocess, ExitSignal>();
let hooked = false;

// A test run that ends (or is interrupted) must not leave servers holding ports.
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const [child, signal] of live) child.kill(signal);
  });
  const exitCodes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
  for (const [signal, code] of Object.entries(exitCodes)) process.once(signal, () => process.exit(code));
}

/** A fresh temp dir named after its server; removed by the caller on a clean stop. */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(process.env.BPM_TEST_TMPDIR ?? tmpdir(), `bpm-${prefix}-`));
}

/** Removes a temp dir unless BPM_KEEP_TEST_DIRS=1 asks to keep it for inspection. */
export function removeTempDir(dir: string): void {
  if (process.env.BPM_KEEP_TEST_DIRS === "1") return;
  rmSync(dir, { recursive: true, force: true });
}

export interface LoggedProcess {
  readonly proc: Subprocess;
  readonly logFile: string;
  /** Sends `signal`, waits up to `graceMs` for exit, then SIGKILL. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  readonly running: boolean;
}

export interface SpawnOptions {
  /** Names the run in the log's header line. */
  name: string;
  cmd: string[];
  logFile: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Sent when the test process exits: SIGQUIT lets PostgreSQL take its backends down with it. */
  exitSignal?: ExitSignal;
}

/** Starts `cmd` with stdout and stderr appended to `logFile`. */
export function spawnLogged(options: SpawnOptions): LoggedProcess {
  hookExit();
  // One log may hold several runs (restarts): each starts with a header naming what ran.
  appendFileSync(options.logFile, `=== ${new Date().toISOString()} ${options.name}: ${options.cmd.join(" ")}\n`);
  const fd = openSync(options.logFile, "a");
  let proc: Subprocess;
  try {
    proc = Bun.spawn(options.cmd, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdin: "ignore",
      stdout: fd,
      stderr: fd,
    });
  } finally {
    closeSync(fd);
  }
  live.set(proc, options.exitSignal ?? "SIGKILL");
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
    live.delete(proc);
  });
  const stop = async (signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<void> => {
    if (exited) return;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
    await proc.exited;
    clearTimeout(timer);
  };
  return {
    proc,
    logFile: options.logFile,
    stop,
    kill: () => stop("SIGKILL", 0),
    get running() {
      return !exited;
    },
  };
}

/** The last lines of a log, for error messages. */
export function logTail(logFile: string, lines = 30): string {
  try {
    return readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export interface WaitOptions {
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** Fails fast, with the log, when the server dies while we wait. */
  process?: LoggedProcess;
}

/** Polls `probe` until it returns a value (not undefined); throws with the log path on timeout or death. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    if (options.process !== undefined && !options.process.running) {
      throw failure(`${options.what}: the process exited (code ${options.process.proc.exitCode})`, options.process);
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw failure(`${options.what}: timed out after ${options.timeoutMs ?? 30_000} ms${why}`, options.process);
    }
    await Bun.sleep(options.intervalMs ?? 100);
  }
}

function failure(message: string, logged: LoggedProcess | undefined): Error {
  if (logged === undefined) return new Error(message);
  const text = `${message}\n  log: ${logged.logFile}\n${logTail(logged.logFile)}`;
  console.error(text);
  return new Error(text);
}

/** fetch with a short timeout, for readiness probes. */
export function probeFetch(url: string, init: RequestInit = {}, timeoutMs = 2_000): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
}
