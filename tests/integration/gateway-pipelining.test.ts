import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { authHeaders, postJson, startBpm, type BpmProcess } from "../support/bpm.ts";
import { startPostgres, type PostgresServer } from "../support/servers.ts";

// The gateway pipelines GETs to instances (docs/http-transport.md "Pipelining"). task-service on
// SQLite answers within the read and takes it; process-service on PostgreSQL answers after real
// I/O, and Bun.serve closes a connection that pipelines into a handler still waiting — every
// request must still be answered.

/** The value of a counter on the gateway's /metrics (0 when absent). */
async function counter(gateway: BpmProcess, name: string): Promise<number> {
  const text = await (await fetch(`${gateway.url()}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * A GET per path, each on a fresh client connection, all written in one synchronous loop so that
 * the gateway reads them in one event-loop turn (and may pipeline them upstream). Returns the
 * status line of each answer ("no answer within 5 s" for one that did not come); an event stream
 * counts as answered once it has stayed open 300 ms after its head.
 */
async function wave(gateway: BpmProcess, paths: string[], auth: string): Promise<string[]> {
  const url = new URL(gateway.url());
  const sockets = await Promise.all(
    paths.map(() => {
      let got = "";
      let done!: (s: string) => void;
      const answered = new Promise<string>((resolve) => {
        done = resolve;
        setTimeout(() => resolve("no answer within 5 s"), 5_000);
      });
      return Bun.connect({
        hostname: url.hostname,
        port: Number(url.port),
        socket: {
          data(_s, buf) {
            got += buf.toString("latin1");
            const end = got.indexOf("\r\n\r\n");
            if (end < 0) return;
            const length = /content-length: (\d+)/i.exec(got)?.[1];
            const streamed = /content-type: text\/event-stream/i.test(got.slice(0, end));
            // a stream must also stay open: its status counts once it has been open for 300 ms
            if (streamed) setTimeout(() => done(got.slice(0, got.indexOf("\r\n"))), 300);
            else if (length !== undefined && got.length >= end + 4 + Number(length)) done(got.slice(0, got.indexOf("\r\n")));
          },
          close() {
            done(got === "" ? "closed without an answer" : `closed early after: ${got.slice(0, got.indexOf("\r\n"))}`);
          },
        },
      }).then((socket) => ({ socket, answered }));
    }),
  );
  sockets.forEach(({ socket }, i) => socket.write(`GET ${paths[i]} HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: ${auth}\r\n\r\n`));
  const statuses = await Promise.all(sockets.map((s) => s.answered));
  for (const { socket } of sockets) socket.end();
  return statuses;
}

describe("gateway → instances, pipelined", () => {
  let task: BpmProcess;
  let proc: BpmProcess;
  let pg: PostgresServer;
  let gateway: BpmProcess;
  let auth: string;
  let taskPath: string;
  beforeAll(async () => {
    pg = await startPostgres();
    [task, proc] = await Promise.all([startBpm({ roles: ["task-service"] }), startBpm({ roles: ["process-service"], env: { DATABASE_URL: pg.url } })]);
    gateway = await startBpm({
      roles: ["gateway"],
      config: {
        discovery: {
          static: {
            "task-service": [{ address: "127.0.0.1", port: task.ports["task-service"].http }],
            "process-service": [{ address: "127.0.0.1", port: proc.ports["process-service"].http }],
          },
        },
      },
    });
    auth = (await authHeaders(3)).authorization!;
    const created = (await (await postJson(`${gateway.url()}/api/tasks`, { title: "pipelined", user_id: 3 }, { authorization: auth })).json()) as { id: number };
    taskPath = `/api/tasks/${created.id}`;
  });
  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([task?.stop(), proc?.stop()]);
    await pg?.stop();
  });

  test("task-service: GETs that arrive together go out pipelined and are each answered", async () => {
    let pipelined = 0;
    for (let i = 0; i < 20 && pipelined === 0; i++) {
      expect(await wave(gateway, Array(16).fill(taskPath), auth)).toEqual(Array(16).fill("HTTP/1.1 200 OK"));
      pipelined = await counter(gateway, "bpm_gateway_upstream_pipelined_requests_total");
    }
    expect(pipelined).toBeGreaterThan(0);
    expect(await counter(gateway, "bpm_gateway_upstream_pipeline_refusals_total")).toBe(0);
  });

  test("an event stream read through the gateway is never pipelined: it stays open, and the GETs that arrive with it are answered", async () => {
    // were the stream pipelined, the GETs queued behind it would wait for its end — or, as task-service's Bun.serve
    // does with the stream's handler still running, the connection is dropped: the GETs are resent, the stream is cut
    // (checked: this fails with the gateway's STREAMED_ROUTES check taken out)
    for (let i = 0; i < 5; i++) {
      expect(await wave(gateway, [`/api/tasks/stream?user_id=3`, ...Array(15).fill(taskPath)], auth)).toEqual(Array(16).fill("HTTP/1.1 200 OK"));
    }
    expect(await counter(gateway, "bpm_gateway_upstream_pipeline_refusals_total")).toBe(0);
  }, 30_000);

  test("process-service on PostgreSQL (Bun.serve refuses pipelining into a waiting handler): every GET is answered, the refusal is counted", async () => {
    let refusals = 0;
    for (let i = 0; i < 20 && refusals === 0; i++) {
      expect(await wave(gateway, Array(16).fill("/api/processes"), auth)).toEqual(Array(16).fill("HTTP/1.1 200 OK"));
      refusals = await counter(gateway, "bpm_gateway_upstream_pipeline_refusals_total");
    }
    expect(refusals).toBeGreaterThan(0);
    // paused for this instance now: later waves are answered without further refusals
    for (let i = 0; i < 3; i++) expect(await wave(gateway, Array(16).fill("/api/processes"), auth)).toEqual(Array(16).fill("HTTP/1.1 200 OK"));
    expect(await counter(gateway, "bpm_gateway_upstream_pipeline_refusals_total")).toBe(refusals);
  });
});
