// A real PostgreSQL server (Debian's packages) per test suite: own data dir, 127.0.0.1, free port.
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SQL } from "bun";
import { freePort } from "./ports.ts";
import { makeTempDir, removeTempDir, spawnLogged, waitFor, type LoggedProcess } from "./process.ts";
import { toolPath } from "./tools.ts";

export interface PostgresServer {
  /** postgres://bpm:PASSWORD@127.0.0.1:PORT/DATABASE */
  readonly url: string;
  readonly port: number;
  readonly database: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** Fast shutdown (SIGINT), then the temp dir is removed. */
  stop(): Promise<void>;
  /** kill -9 of the postmaster; data stays for restart(). */
  kill(): Promise<void>;
  /** Starts it again on the same port and data (crash recovery runs if it was killed). */
  restart(): Promise<void>;
}

const superuser = "bpm";

/** PostgreSQL refuses to run as root: as root, run it as the `postgres` system user (created if missing). */
function runAs(): { uid: number; gid: number; prefix: string[] } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let id = Bun.spawnSync(["id", "-u", "postgres"]);
  if (id.exitCode !== 0) {
    Bun.spawnSync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"], { stderr: "inherit" });
    id = Bun.spawnSync(["id", "-u", "postgres"]);
  }
  const uid = Number(id.stdout.toString().trim());
  const gid = Number(Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString().trim());
  // setpriv execs in place (runuser forks), so the pid we hold is the postmaster itself.
  return { uid, gid, prefix: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--init-groups", "--"] };
}

/** Pids whose parent is `parent` (Linux /proc). */
function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** A zombie has already released its memory; only a live process holds shared memory attached. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}

/** initdb into a temp dir, start on 127.0.0.1:free port (socket in the temp dir), create `database`. */
export async function startPostgres(options: { database?: string; readyTimeoutMs?: number } = {}): Promise<PostgresServer> {
  const bin = toolPath("postgres");
  const database = options.database ?? "bpm";
  const dir = makeTempDir("postgres");
  const dataDir = join(dir, "data");
  const logFile = join(dir, "postgres.log");
  const password = crypto.randomUUID().replaceAll("-", "");
  const pwFile = join(dir, "pwfile");
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  const user = runAs();
  if (user !== undefined) chownTree(dir, user.uid, user.gid);
  const prefix = user?.prefix ?? [];

  const initdb = spawnLogged({
    name: "initdb",
    cmd: [...prefix, join(bin, "initdb"), "-D", dataDir, "-U", superuser, `--pwfile=${pwFile}`,
      "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"],
    logFile,
  });
  if ((await initdb.proc.exited) !== 0 || !existsSync(join(dataDir, "PG_VERSION"))) {
    throw new Error(`initdb failed\n  log: ${logFile}`);
  }
  mkdirSync(join(dir, "socket"), { recursive: true });
  if (user !== undefined) chownTree(join(dir, "socket"), user.uid, user.gid);

  const port = await freePort();
  const adminUrl = `postgres://${superuser}:${password}@127.0.0.1:${port}/postgres`;
  let server: LoggedProcess | undefined;
  const launch = async (): Promise<void> => {
    server = spawnLogged({
      name: "postgres",
      cmd: [...prefix, join(bin, "postgres"), "-D", dataDir, "-p", String(port), "-h", "127.0.0.1",
        "-k", join(dir, "socket"), "-c", "max_connections=200"],
      logFile,
      exitSignal: "SIGQUIT",
    });
    const running = server;
    await waitFor(
      async () => {
        const sql = new SQL(adminUrl, { max: 1, connectionTimeout: 2 });
        try {
          await sql`select 1`;
          return true;
        } finally {
          await sql.close();
        }
      },
      { what: `postgres on 127.0.0.1:${port}`, timeoutMs: options.readyTimeoutMs ?? 30_000, process: running },
    );
  };
  await launch();
  const admin = new SQL(adminUrl, { max: 1 });
  try {
    await admin.unsafe(`create database "${database}"`);
  } finally {
    await admin.close();
  }

  return {
    url: `postgres://${superuser}:${password}@127.0.0.1:${port}/${database}`,
    port,
    database,
    dataDir,
    logFile,
    async stop() {
      await server?.stop("SIGINT", 15_000);
      removeTempDir(dir);
    },
    async kill() {
      if (server === undefined || !server.running) return;
      // The whole server crashes, not just the postmaster: orphaned backends would keep its shared
      // memory attached and make restart() fail. SIGSTOP first so no new backend forks meanwhile.
      process.kill(server.proc.pid, "SIGSTOP");
      const backends = childPids(server.proc.pid);
      for (const pid of backends) signal(pid, "SIGKILL");
      await server.kill();
      await waitFor(async () => (backends.some(alive) ? undefined : true), { what: "postgres backends to exit", timeoutMs: 10_000 });
    },
    async restart() {
      await server?.stop("SIGINT", 15_000);
      await launch();
    },
  };
}
