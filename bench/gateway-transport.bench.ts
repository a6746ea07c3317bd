/**
 * The gateway's upstream hop alone: how fast can one Bun process forward a GET?
 * Side by side in one run, against the same upstream, with wrk -t2 -c64:
 *   direct             wrk → upstream
 *   TCP relay (floor)  Bun.listen ↔ Bun.connect byte relay, no HTTP: syscalls + Bun's socket layer only
 *   fetch (bare)       Bun.serve → fetch(), nothing else
 *   fetch (proxy)      Bun.serve → proxyFetch() (bench/fetch-proxy.ts: what the gateway did)
 *   http1 pool (bare)  Bun.serve → Http1Client.request()
 *   http1 pool (proxy) Bun.serve → proxyRequest(client, …) (header rules as the gateway)
 *   node:http agent    Bun.serve → node:http request with a keepAlive Agent
 *   raw front          PROTOTYPE: Bun.listen front + own pool, gateway header work, bytes relayed
 *                      back (no Request/Response): what leaving Bun.serve could buy
 *   nginx              Debian's nginx, 1 worker, upstream keepalive (and `auto` workers)
 * Each round measures every target once (order rotated); medians are printed: req/s (and its
 * range), p50/p99, ratios vs direct and vs nginx (1 worker), and the CPU µs per request of the
 * proxy process (nginx: master + workers) and of its busiest thread (fetch() moves socket work
 * to a second thread; 1e6 / that figure caps one process's req/s), and of the upstream. The load average is printed too:
 * other work on the machine moves throughput far more than CPU µs per request.
 *
 *   bun bench/gateway-transport.bench.ts [--upstream=bpm|bun] [--seconds=5] [--connections=64]
 *                                        [--rounds=3] [--only=kind,…] [--pin]
 * kinds for --only: tcp-relay fetch-bare fetch-proxy http1-bare http1-proxy node-http raw-front nginx-1 nginx-auto
 * (direct is always measured).
 * --upstream=bpm (default when ./bpm exists): ./bpm --role=task-service, GET /api/tasks/:id.
 * --upstream=bun: a Bun.serve answering a fixed 253-byte task JSON (isolates the proxy).
 * --pin: proxy on CPU 1, upstream on CPU 0, wrk unpinned (default: nothing pinned).
 * Child mode (used by the parent): --serve=KIND --port=N --to=HOST:PORT
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { Subprocess } from "bun";
import { Http1Client } from "../src/transport/http1/index.ts";
import { proxyRequest } from "../src/transport/http-proxy.ts";
import { proxyFetch } from "./fetch-proxy.ts";
import { REPO } from "../tests/support/bpm.ts";
import { freePort } from "../tests/support/ports.ts";
import { toolPath } from "../tests/support/tools.ts";
import { table, waitHttp, wrk } from "./lib.ts";

const args = new Map(
  process.argv.slice(2).map((a) => {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    return m ? [m[1]!, m[2] ?? "true"] : [a, "true"];
  }),
);

const HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"]);

const TASK_JSON = JSON.stringify({
  id: 1, title: "bench", description: "a task the benchmark reads back", priority: "medium", status: "todo",
  user_id: 1, project_id: 0, process_instance_id: "", step_id: "", created_at: "2026-01-01T00:00:00.000Z", updated_at: "2026-01-01T00:00:00.000Z",
});

/** The prototypes' request head for the upstream: hop-by-hop fields dropped, Host, X-Forwarded-For and a correlation id set. */
function upstreamHead(data: Buffer, end: number, target: { address: string; port: number }, ip: string): string {
  const text = data.toString("latin1", 0, end);
  let eol = text.indexOf("\r\n");
  let out = text.slice(0, eol < 0 ? text.length : eol) + "\r\n";
  let forwardedFor = "";
  for (let pos = eol + 2; eol >= 0 && pos < text.length; pos = eol + 2) {
    eol = text.indexOf("\r\n", pos);
    const line = text.slice(pos, eol < 0 ? text.length : eol);
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).toLowerCase();
    if (HOP.has(name) || name === "x-correlation-id") continue;
    if (name === "x-forwarded-for") forwardedFor = `${line.slice(colon + 1).trim()}, `;
    else out += line + "\r\n";
    if (eol < 0) break;
  }
  return `${out}host: ${target.address}:${target.port}\r\nx-forwarded-for: ${forwardedFor}${ip}\r\nx-correlation-id: ${crypto.randomUUID()}\r\n\r\n`;
}

/** Child mode: one server of the given kind, forwarding to `--to`. */
function serve(kind: string, port: number, to: string): void {
  const [address, upstreamPort] = [to.slice(0, to.lastIndexOf(":")), Number(to.slice(to.lastIndexOf(":") + 1))];
  const target = { address, port: upstreamPort };
  const origin = `http://${to}`;
  let onExit = (): void => {};
  let fetchHandler: (req: Request, srv: Bun.Server<undefined>) => Response | Promise<Response>;
  if (kind === "tcp-relay") {
    relay(port, target);
    return;
  }
  if (kind === "raw-front") {
    rawFront(port, target);
    return;
  }
  if (kind === "raw-front-pipe") {
    rawFrontPipe(port, target, Number(args.get("depth") ?? 16), Number(args.get("conns") ?? 8));
    return;
  }
  switch (kind) {
    case "upstream-json":
      fetchHandler = () => new Response(TASK_JSON, { headers: { "content-type": "application/json" } });
      break;
    case "fetch-bare":
      fetchHandler = (req) => {
        const u = req.url;
        return fetch(origin + u.slice(u.indexOf("/", 8)), { method: req.method, headers: req.headers, body: req.body, redirect: "manual", decompress: false });
      };
      break;
    case "fetch-proxy":
      fetchHandler = (req, srv) => proxyFetch(req, new URL(req.url), target, { setHeaders: { "x-correlation-id": crypto.randomUUID() }, clientIp: srv.requestIP(req)?.address });
      break;
    case "http1-bare": {
      const client = new Http1Client();
      onExit = () => console.error(`${kind}: ${JSON.stringify(client.stats())}`);
      fetchHandler = (req) => {
        const u = req.url;
        return client.request(target, { method: req.method, path: u.slice(u.indexOf("/", 8)), body: req.body, stripHopByHop: true });
      };
      break;
    }
    case "http1-proxy": {
      const client = new Http1Client();
      onExit = () => console.error(`${kind}: ${JSON.stringify(client.stats())}`);
      fetchHandler = (req, srv) => proxyRequest(client, req, new URL(req.url), target, { setHeaders: { "x-correlation-id": crypto.randomUUID() }, clientIp: srv.requestIP(req)?.address });
      break;
    }
    case "node-http": {
      const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
      fetchHandler = (req) =>
        new Promise<Response>((resolve, reject) => {
          const u = req.url;
          const headers: Record<string, string> = {};
          req.headers.forEach((v, k) => {
            if (!HOP.has(k)) headers[k] = v;
          });
          const out = httpRequest({ host: address, port: upstreamPort, method: req.method, path: u.slice(u.indexOf("/", 8)), headers, agent }, (res) => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) {
              if (v === undefined || HOP.has(k)) continue;
              if (Array.isArray(v)) for (const x of v) h.append(k, x);
              else h.set(k, v);
            }
            resolve(new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status: res.statusCode ?? 502, headers: h }));
          });
          out.on("error", reject);
          if (req.body) Readable.fromWeb(req.body as import("node:stream/web").ReadableStream).pipe(out);
          else out.end();
        });
      break;
    }
    default:
      throw new Error(`unknown --serve=${kind}`);
  }
  Bun.serve({ hostname: "127.0.0.1", port, fetch: fetchHandler, error: (e) => new Response(String(e), { status: 502 }) });
  // Exit cleanly on SIGTERM so `bun --cpu-prof` can write its profile.
  process.on("SIGTERM", () => {
    if (process.env.BENCH_STATS) onExit();
    process.exit(0);
  });
}

/**
 * The floor for any Bun proxy: bytes relayed between a client connection and its own upstream
 * connection, no HTTP parsing, no Request/Response. Only the syscalls and Bun's socket layer.
 */
function relay(port: number, target: { address: string; port: number }): void {
  interface Pair { peer: import("bun").Socket<Pair> | null; queued: Uint8Array[] }
  Bun.listen<Pair>({
    hostname: "127.0.0.1",
    port,
    socket: {
      open(client) {
        client.data = { peer: null, queued: [] };
        void Bun.connect<Pair>({
          hostname: target.address,
          port: target.port,
          data: { peer: client, queued: [] },
          socket: {
            data: (up, buf) => void up.data.peer?.write(buf),
            close: () => void client.end(),
          },
        }).then((up) => {
          client.data.peer = up;
          for (const b of client.data.queued) up.write(b);
        });
      },
      data(client, buf) {
        if (client.data.peer) client.data.peer.write(buf);
        else client.data.queued.push(buf);
      },
      close(client) {
        client.data.peer?.end();
      },
    },
  });
}

/**
 * PROTOTYPE, bench only (GET/HEAD, Content-Length responses, no pipelining): an HTTP-aware
 * front on Bun.listen with its own keep-alive pool, doing the gateway's header work (parse
 * the request fields, drop hop-by-hop ones, add X-Forwarded-For and a correlation id) but no
 * Request/Response objects: the response is relayed as bytes once its framing is known.
 * It shows what leaving Bun.serve could buy; it is not a server anyone should run.
 */
function rawFront(port: number, target: { address: string; port: number }): void {
  type ClientSock = import("bun").Socket<Front>;
  type UpSock = import("bun").Socket<Up>;
  interface Front { buf: Buffer | null; up: UpSock | null; ip: string }
  interface Up { client: ClientSock | null; remaining: number; head: Buffer | null }
  const idle: UpSock[] = [];
  const HEAD_END = Buffer.from("\r\n\r\n");
  const upHandlers: import("bun").SocketHandler<Up> = {
    data(up, buf) {
      const st = up.data;
      const client = st.client;
      if (!client) return void up.terminate();
      if (st.remaining < 0) {
        const data = st.head ? Buffer.concat([st.head, buf]) : buf;
        const end = data.indexOf(HEAD_END);
        if (end < 0) return void (st.head = data);
        st.head = null;
        const head = data.toString("latin1", 0, end).toLowerCase();
        const at = head.indexOf("\r\ncontent-length:");
        const stop = head.indexOf("\r\n", at + 17);
        const length = at < 0 ? 0 : parseInt(head.slice(at + 17, stop < 0 ? undefined : stop), 10);
        st.remaining = length - (data.length - end - 4);
        client.write(data);
      } else {
        st.remaining -= buf.length;
        client.write(buf);
      }
      if (st.remaining <= 0) {
        st.remaining = -1;
        st.client = null;
        client.data.up = null;
        idle.push(up);
        if (client.data.buf) frontData(client, Buffer.alloc(0));
      }
    },
    close(up) {
      const i = idle.indexOf(up);
      if (i >= 0) idle.splice(i, 1);
      up.data.client?.end();
    },
  };
  const send = (client: ClientSock, head: string) => {
    const up = idle.pop();
    if (up) {
      up.data.client = client;
      client.data.up = up;
      up.write(head);
      return;
    }
    void Bun.connect<Up>({ hostname: target.address, port: target.port, socket: upHandlers, data: { client, remaining: -1, head: null } }).then((s) => {
      client.data.up = s;
      s.write(head);
    });
  };
  const frontData = (client: ClientSock, buf: Buffer): void => {
    const st = client.data;
    const data = st.buf ? Buffer.concat([st.buf, buf]) : buf;
    if (st.up) return void (st.buf = data); // one request at a time per client connection
    const end = data.indexOf(HEAD_END);
    if (end < 0) return void (st.buf = data);
    st.buf = end + 4 < data.length ? data.subarray(end + 4) : null;
    const out = upstreamHead(data, end, target, st.ip);
    send(client, out);
  };
  Bun.listen<Front>({
    hostname: "127.0.0.1",
    port,
    socket: {
      open(client) {
        client.data = { buf: null, up: null, ip: client.remoteAddress };
      },
      data: frontData,
      close(client) {
        const up = client.data.up;
        if (up) up.terminate();
      },
    },
  });
}

/**
 * The prototype with upstream requests pipelined: requests that arrive in one event-loop turn
 * are queued on one upstream connection (up to `depth` in flight on it) and written with one
 * write at the turn's end; responses come back in order and go to their clients.
 */
function rawFrontPipe(port: number, target: { address: string; port: number }, depth: number, maxConns: number): void {
  type ClientSock = import("bun").Socket<Front>;
  type UpSock = import("bun").Socket<Up>;
  interface Front { buf: Buffer | null; busy: boolean; ip: string }
  interface Up { queue: ClientSock[]; out: string; remaining: number; head: Buffer | null; ready: boolean }
  const conns: UpSock[] = [];
  let current: UpSock | null = null;
  let flushScheduled = false;
  let flushes = 0, writes = 0, reqs = 0;
  const HEAD_END = Buffer.from("\r\n\r\n");
  const flush = () => {
    flushScheduled = false;
    current = null;
    flushes++;
    for (const c of conns) if (c.data.out && c.data.ready) { c.write(c.data.out); c.data.out = ""; writes++; }
  };
  process.on("SIGTERM", () => { console.error(`pipe: ${reqs} requests, ${writes} writes, ${flushes} flushes`); process.exit(0); });
  const upHandlers: import("bun").SocketHandler<Up> = {
    open(up) { up.data.ready = true; if (up.data.out) { up.write(up.data.out); up.data.out = ""; } },
    data(up, buf) {
      const st = up.data;
      let data: Buffer = st.head ? Buffer.concat([st.head, buf]) : buf;
      st.head = null;
      let at = 0;
      while (at < data.length) {
        const client = st.queue[0];
        if (!client) return void up.terminate();
        if (st.remaining < 0) {
          const end = data.indexOf(HEAD_END, at);
          if (end < 0) { st.head = data.subarray(at); return; }
          const head = data.toString("latin1", at, end).toLowerCase();
          const cl = head.indexOf("\r\ncontent-length:");
          const stop = head.indexOf("\r\n", cl + 17);
          const length = cl < 0 ? 0 : parseInt(head.slice(cl + 17, stop < 0 ? undefined : stop), 10);
          st.remaining = length + (end + 4 - at);
        }
        const take = Math.min(st.remaining, data.length - at);
        client.write(data.subarray(at, at + take));
        at += take;
        st.remaining -= take;
        if (st.remaining === 0) {
          st.remaining = -1;
          st.queue.shift();
          client.data.busy = false;
          if (client.data.buf) frontData(client, Buffer.alloc(0));
        }
      }
    },
    close(up) {
      const i = conns.indexOf(up);
      if (i >= 0) conns.splice(i, 1);
      for (const c of up.data.queue) c.end();
    },
  };
  const pick = (): UpSock | null => {
    if (current && current.data.queue.length < depth) return current;
    let best: UpSock | null = null;
    for (const c of conns) if (!best || c.data.queue.length < best.data.queue.length) best = c;
    if (best && (best.data.queue.length < depth || conns.length >= maxConns)) return best;
    return null;
  };
  const send = (client: ClientSock, head: string) => {
    reqs++;
    let up = pick();
    if (!up) {
      const data: Up = { queue: [], out: "", remaining: -1, head: null, ready: false };
      void Bun.connect<Up>({ hostname: target.address, port: target.port, socket: upHandlers, data }).then((s) => void conns.push(s));
      // queued on the pending connection's data until it opens
      data.queue.push(client);
      data.out += head;
      return;
    }
    current = up;
    up.data.queue.push(client);
    up.data.out += head;
    if (!flushScheduled) { flushScheduled = true; setImmediate(flush); }
  };
  const frontData = (client: ClientSock, buf: Buffer): void => {
    const st = client.data;
    const data = st.buf ? Buffer.concat([st.buf, buf]) : buf;
    if (st.busy) return void (st.buf = data);
    const end = data.indexOf(HEAD_END);
    if (end < 0) return void (st.buf = data);
    st.buf = end + 4 < data.length ? data.subarray(end + 4) : null;
    const out = upstreamHead(data, end, target, st.ip);
    st.busy = true;
    send(client, out);
  };
  Bun.listen<Front>({
    hostname: "127.0.0.1",
    port,
    socket: {
      open(client) { client.data = { buf: null, busy: false, ip: client.remoteAddress }; },
      data: frontData,
      close() {},
    },
  });
}

if (args.has("serve")) {
  serve(args.get("serve")!, Number(args.get("port")), args.get("to") ?? "127.0.0.1:1");
} else {
  await main();
}

/** CPU ticks (utime + stime) of every thread of `root` and its descendants (nginx works in its worker), by "pid/tid". */
function treeThreadTicks(root: number): Map<string, number> {
  const parent = new Map<number, number>();
  const stat = (path: string): string[] | undefined => {
    try {
      const text = readFileSync(path, "utf8");
      return text.slice(text.lastIndexOf(")") + 2).split(" ");
    } catch {
      return undefined; // exited meanwhile
    }
  };
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = stat(`/proc/${entry}/stat`);
    if (fields) parent.set(Number(entry), Number(fields[1]));
  }
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; p = parent.get(p), hops++) if (p === root) return true;
    return false;
  };
  const ticks = new Map<string, number>();
  for (const pid of parent.keys()) {
    if (!inTree(pid)) continue;
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      const fields = stat(`/proc/${pid}/task/${tid}/stat`);
      if (fields) ticks.set(`${pid}/${tid}`, Number(fields[11]) + Number(fields[12]));
    }
  }
  return ticks;
}

/** CPU seconds between two snapshots: all threads, and the busiest single thread (the one that caps a process's throughput). */
function cpuDelta(before: Map<string, number>, after: Map<string, number>): { total: number; busiest: number } {
  let total = 0;
  let busiest = 0;
  for (const [key, t] of after) {
    const d = t - (before.get(key) ?? 0);
    total += d;
    busiest = Math.max(busiest, d);
  }
  return { total: total / 100, busiest: busiest / 100 }; // USER_HZ is 100 on Linux
}

function spawn(cmd: string[], cpu: number | undefined): Subprocess {
  const full = cpu === undefined ? cmd : ["taskset", "-c", String(cpu), ...cmd];
  return Bun.spawn(full, { stdout: "ignore", stderr: "inherit", cwd: REPO });
}

async function main(): Promise<void> {
  const seconds = Number(args.get("seconds") ?? 5);
  const connections = Number(args.get("connections") ?? 64);
  const pin = args.has("pin");
  const rounds = Number(args.get("rounds") ?? 3);
  const only = args.get("only")?.split(",");
  const bun = process.execPath;
  const self = join(REPO, "bench/gateway-transport.bench.ts");
  const work = mkdtempSync(join(tmpdir(), "bpm-transport-bench-"));
  const children: Subprocess[] = [];
  const cleanup = () => {
    for (const c of children) c.kill("SIGKILL");
    rmSync(work, { recursive: true, force: true });
  };
  process.on("exit", cleanup);

  // ---- upstream ----
  const upstreamKind = args.get("upstream") ?? (existsSync(join(REPO, "bpm")) ? "bpm" : "bun");
  const upstreamPort = await freePort();
  let path = "/api/tasks/1";
  if (upstreamKind === "bpm") {
    // A private copy: other work may rebuild ./bpm during the run.
    const bin = join(work, "bpm");
    copyFileSync(join(REPO, "bpm"), bin);
    const grpcPort = await freePort();
    const config = join(work, "config.yaml");
    // transports, not credentials, are measured here: the upstream asks for none
    writeFileSync(config, JSON.stringify({ roles: { "task-service": { port: upstreamPort, grpc_port: grpcPort } }, http: { host: "127.0.0.1" }, log: { level: "warn" }, auth: { enabled: false } }));
    children.push(spawn([bin, "--role=task-service", "--config", config, "--data-dir", join(work, "data")], pin ? 0 : undefined));
    await waitHttp(`http://127.0.0.1:${upstreamPort}/health`, 20_000);
    const res = await fetch(`http://127.0.0.1:${upstreamPort}/api/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ title: "bench", user_id: 1 }) });
    const created = (await res.json()) as { id: number };
    path = `/api/tasks/${created.id}`;
  } else {
    children.push(spawn([bun, self, "--serve=upstream-json", `--port=${upstreamPort}`], pin ? 0 : undefined));
    await waitHttp(`http://127.0.0.1:${upstreamPort}${path}`);
  }
  const upstreamPid = children[0]!.pid;
  const to = `127.0.0.1:${upstreamPort}`;

  // ---- proxies ----
  interface Target { name: string; port: number; pid?: number }
  const targets: Target[] = [{ name: "direct", port: upstreamPort }];
  const kinds: [string, string][] = [
    ["TCP relay (floor)", "tcp-relay"],
    ["fetch (bare)", "fetch-bare"],
    ["fetch (proxy)", "fetch-proxy"],
    ["http1 pool (bare)", "http1-bare"],
    ["http1 pool (proxy)", "http1-proxy"],
    ["node:http agent", "node-http"],
    ["raw front (prototype)", "raw-front"],
  ];
  for (const [name, kind] of kinds) {
    if (only && !only.includes(kind)) continue;
    const port = await freePort();
    const child = spawn([bun, self, `--serve=${kind}`, `--port=${port}`, `--to=${to}`], pin ? 1 : undefined);
    children.push(child);
    targets.push({ name, port, pid: child.pid });
  }
  for (const workers of ["1", "auto"]) {
    if (only && !only.includes(`nginx-${workers}`)) continue;
    const port = await freePort();
    const p = join(work, `nginx-${workers}`);
    mkdirSync(p);
    writeFileSync(
      join(p, "nginx.conf"),
      `worker_processes ${workers}; daemon off; pid ${p}/nginx.pid; error_log ${p}/error.log warn;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path ${p}; proxy_temp_path ${p}; fastcgi_temp_path ${p}; uwsgi_temp_path ${p}; scgi_temp_path ${p};
  upstream up { server ${to}; keepalive 128; }
  server { listen 127.0.0.1:${port};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header X-Correlation-ID $request_id; } } }`,
    );
    const child = spawn([toolPath("nginx"), "-p", p, "-c", join(p, "nginx.conf")], pin && workers === "1" ? 1 : undefined);
    children.push(child);
    targets.push({ name: `nginx (${workers === "1" ? "1 worker" : "auto workers"})`, port, pid: child.pid });
  }
  for (const t of targets) await waitHttp(`http://127.0.0.1:${t.port}${path}`, 20_000);

  // ---- measure: rounds × targets, each round in a rotated order; medians reported ----
  interface Sample { rps: number; p50: number; p99: number; errors: number; proxyUs: number; busiestUs: number; upstreamUs: number }
  const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
  const load0 = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  for (const t of targets) await wrk(`http://127.0.0.1:${t.port}${path}`, { seconds: 2, connections }); // JIT warm-up, pools filled
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(i + round) % targets.length]!;
      const url = `http://127.0.0.1:${t.port}${path}`;
      const p0 = t.pid === undefined ? undefined : treeThreadTicks(t.pid);
      const u0 = treeThreadTicks(upstreamPid);
      const r = await wrk(url, { seconds, connections });
      const n = Math.max(1, r.requests);
      const proxy = t.pid === undefined || p0 === undefined ? undefined : cpuDelta(p0, treeThreadTicks(t.pid));
      const proxyUs = proxy === undefined ? NaN : (proxy.total * 1e6) / n;
      const busiestUs = proxy === undefined ? NaN : (proxy.busiest * 1e6) / n;
      const upstreamUs = (cpuDelta(u0, treeThreadTicks(upstreamPid)).total * 1e6) / n;
      samples.get(t.name)!.push({ rps: r.rps, p50: r.p50Ms, p99: r.p99Ms, errors: r.errors, proxyUs, busiestUs, upstreamUs });
      console.error(`  round ${round + 1}/${rounds} ${t.name}: ${Math.round(r.rps)} req/s, proxy ${proxyUs.toFixed(1)} µs/req`);
    }
  }
  const load1 = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const median = (xs: number[]): number => {
    const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    return v.length === 0 ? NaN : v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  };
  const results = targets.map((t) => {
    const ss = samples.get(t.name)!;
    const pick = (f: (s: Sample) => number) => median(ss.map(f));
    return { name: t.name, rps: pick((s) => s.rps), p50: pick((s) => s.p50), p99: pick((s) => s.p99), errors: ss.reduce((a, s) => a + s.errors, 0), proxyUs: pick((s) => s.proxyUs), busiestUs: pick((s) => s.busiestUs), upstreamUs: pick((s) => s.upstreamUs), spread: `${Math.round(Math.min(...ss.map((s) => s.rps)))}–${Math.round(Math.max(...ss.map((s) => s.rps)))}` };
  });
  const direct = results[0]!;
  const nginx = results.find((r) => r.name === "nginx (1 worker)");
  const rows = results.map((r) => ({
    target: r.name,
    "req/s": Math.round(r.rps),
    "req/s range": r.spread,
    "p50 ms": r.p50,
    "p99 ms": r.p99,
    errors: r.errors,
    "× direct": r.rps / direct.rps,
    "× nginx": nginx ? r.rps / nginx.rps : NaN,
    "proxy CPU µs/req": Number.isNaN(r.proxyUs) ? "-" : r.proxyUs.toFixed(1),
    "busiest thread µs/req": Number.isNaN(r.busiestUs) ? "-" : r.busiestUs.toFixed(1),
    "upstream CPU µs/req": r.upstreamUs.toFixed(1),
  }));
  console.log(
    `\nGET ${path} on ${upstreamKind === "bpm" ? "./bpm --role=task-service" : "a Bun.serve JSON upstream"}; wrk -t2 -c${connections} -d${seconds}s × ${rounds} rounds (medians); ` +
      `${navigator.hardwareConcurrency} cores; ${pin ? "proxy pinned to CPU 1, upstream to CPU 0" : "nothing pinned"}; load average ${load0} → ${load1}\n`,
  );
  console.log(table(rows));
  cleanup();
  process.exit(0);
}
