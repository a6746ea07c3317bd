/**
 * task-service: cold start to healthy, RSS after 10k requests, and gRPC GetTask calls/s with
 * ghz at 64 in flight. Targets (issue 2): start ≤ 150 ms, RSS ≤ 80 MB.
 *   bun bench/task-service.bench.ts
 */
import { BPM_BIN, freePort, tempDir } from "../tests/support/bpm.ts";
import { toolPath } from "../tests/support/tools.ts";
import { rssMb, table } from "./lib.ts";

async function coldStart(): Promise<{ ms: number; proc: ReturnType<typeof Bun.spawn>; port: number; grpcPort: number }> {
  const port = await freePort();
  const grpcPort = await freePort();
  const t0 = performance.now();
  // the service's own cost, without credentials (tokens: docs/security.md, bench/gateway.bench.ts)
  const proc = Bun.spawn([BPM_BIN, "--role=task-service", "--port", String(port), "--grpc-port", String(grpcPort), "--data-dir", tempDir(), "--log-level", "warn"], { stdout: "ignore", stderr: "inherit", env: { ...process.env, BPM_AUTH_ENABLED: "false" } });
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.status === 200) break;
    } catch {
      // not yet
    }
    await Bun.sleep(2);
  }
  return { ms: performance.now() - t0, proc, port, grpcPort };
}

const starts: number[] = [];
for (let i = 0; i < 7; i++) {
  const s = await coldStart();
  starts.push(s.ms);
  s.proc.kill();
  await s.proc.exited;
}
starts.sort((a, b) => a - b);

const s = await coldStart();
const base = `http://127.0.0.1:${s.port}`;
const rssAtStart = rssMb(s.proc.pid);
const anonAtStart = rssMb(s.proc.pid, "RssAnon");
for (let i = 0; i < 10_000; i += 100) {
  await Promise.all(
    Array.from({ length: 100 }, (_, j) =>
      (i + j) % 2
        ? fetch(`${base}/api/tasks/${Math.max(1, (i + j) >> 1)}`).then((r) => r.arrayBuffer())
        : fetch(`${base}/api/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ title: `t${i + j}`, user_id: 1 + (j % 7) }) }).then((r) => r.arrayBuffer()),
    ),
  );
}
const rssAfter = rssMb(s.proc.pid);
const anonAfter = rssMb(s.proc.pid, "RssAnon");
const fileAfter = rssMb(s.proc.pid, "RssFile");

const ghz = Bun.spawn([toolPath("ghz"), "--insecure", "--call", "taskservice.TaskService.GetTask", "-d", '{"id":1}', "-c", "64", "-n", "30000", "--format", "json", `127.0.0.1:${s.grpcPort}`], { stdout: "pipe", stderr: "pipe" });
const ghzOut = await new Response(ghz.stdout).text();
await ghz.exited;
let grpc = { rps: NaN, p99Ms: NaN, errors: NaN };
try {
  const j = JSON.parse(ghzOut) as { rps: number; latencyDistribution: { percentage: number; latency: number }[]; statusCodeDistribution: Record<string, number> };
  grpc = {
    rps: j.rps,
    p99Ms: (j.latencyDistribution.find((d) => d.percentage === 99)?.latency ?? NaN) / 1e6,
    errors: Object.entries(j.statusCodeDistribution).filter(([k]) => k !== "OK").reduce((a, [, n]) => a + n, 0),
  };
} catch {
  console.error(`ghz printed no JSON:\n${ghzOut.slice(0, 500)}`);
}
s.proc.kill();
await s.proc.exited;

console.log(table([
  { measure: "cold start → /health 200 (median of 7)", value: `${starts[3]!.toFixed(0)} ms`, "min / max": `${starts[0]!.toFixed(0)} / ${starts[6]!.toFixed(0)} ms`, target: "≤ 150 ms", ratio: `${(starts[3]! / 150).toFixed(2)}× target` },
  { measure: "RSS after start", value: `${rssAtStart.toFixed(1)} MB`, "min / max": `private ${anonAtStart.toFixed(1)} MB`, target: "", ratio: "" },
  { measure: "RSS after 10k REST requests", value: `${rssAfter.toFixed(1)} MB`, "min / max": `private ${anonAfter.toFixed(1)} + mapped binary ${fileAfter.toFixed(1)} MB`, target: "≤ 80 MB", ratio: `${(rssAfter / 80).toFixed(2)}× target` },
  { measure: "gRPC GetTask, ghz -c 64 -n 30000", value: `${Math.round(grpc.rps)} calls/s`, "min / max": `p99 ${grpc.p99Ms.toFixed(2)} ms`, target: "", ratio: `${grpc.errors} errors` },
]));
process.exit(0);
