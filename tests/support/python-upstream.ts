// A tiny HTTP service in another language than bpm: Python's http.server, answering every
// request with JSON naming its version, the path it was sent and the method.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./ports.ts";
import { makeTempDir, probeFetch, spawnLogged, waitFor, type LoggedProcess } from "./process.ts";

const SCRIPT = `
import http.server, json, sys, time
VERSION = sys.argv[2]
FAIL = len(sys.argv) > 3 and sys.argv[3] == "fail"  # every request but /health answers 503
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def answer(self):
        if self.path.startswith("/slow"):
            time.sleep(5)
        n = int(self.headers.get("content-length") or 0)
        if n: self.rfile.read(n)
        body = json.dumps({"version": VERSION, "path": self.path, "method": self.command}).encode()
        self.send_response(503 if FAIL and self.path != "/health" else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = answer
class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
`;

export interface PythonUpstream {
  port: number;
  url: string;
  process: LoggedProcess;
  stop(): Promise<void>;
}

/** Starts the service on a free loopback port and waits until it answers. */
export async function startPythonUpstream(version: string, opts: { failing?: boolean } = {}): Promise<PythonUpstream> {
  const dir = makeTempDir("py-upstream");
  const script = join(dir, "upstream.py");
  writeFileSync(script, SCRIPT);
  const port = await freePort();
  const proc = spawnLogged({ name: `python upstream v${version}`, cmd: ["python3", script, String(port), version, ...(opts.failing ? ["fail"] : [])], logFile: join(dir, "upstream.log") });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => ((await probeFetch(`${url}/health`)).ok ? true : undefined), { what: `python upstream v${version}`, timeoutMs: 15_000, intervalMs: 25, process: proc });
  return {
    port,
    url,
    process: proc,
    stop: () => proc.kill(),
  };
}
