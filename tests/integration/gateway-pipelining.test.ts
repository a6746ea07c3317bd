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
 * `n` GETs on `n` fresh client connections, all written in one synchronous loop so that the
 * gateway reads them in one event-loop turn (and may pipeline them upstream). Returns the
 * status line of each answer.
 */
async function wave(gateway: BpmProcess, path: string, auth: string, n: number): Promise<string[]> {
  const url = new URL(gateway.url());
  const sockets = await Promise.all(
    Array.from({ length: n }, () => {
      let got = "";
      let done!: (s: string) => void;
      const answered = new Promise<string>((resolve) => (done = resolve));
      return Bun.connect({
        hostname: url.hostname,
        port: Number(url.port),
        socket: {
          data(_s, buf) {
            got += buf.toString("latin1");
            const end = got.indexOf("\r\n\r\n");
            const length = /content-length: (\d+)/i.exec(got)?.[1];
            if (end >= 0 && length !== undefined && got.length >= end + 4 + Number(length)) done(got.slice(0, got.indexOf("\r\n")));
          },
          close() {
            done(got === "" ? "closed without an answer" : got.slice(0, got.indexOf("\r\n")));
          },
        },
      }).then((socket) => ({ socket, answered }));
    }),
  );
  const request = `GET ${path} HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: ${auth}\r\n\r\n`;
  for (const { socket } of sockets) socket.write(request);
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
      expect(await wave(gateway, taskPath, auth, 16)).toEqual(Array(16).fill("HTTP/1.1 200 OK"));
      pipelined = await counter(gateway, "bpm_gateway_upstream_pipelined_requests_total");
    }
    expect(pipelined).toBeGreaterThan(0);
    expect(await counter(gateway, "bpm_gateway_upstream_pipeline_refusals_total")).toBe(0);
  });

  test("process-service on PostgreSQL (Bun.serve refuses pipelining into a waiting handler): every GET is answered, the refusal is counted", async () => {
    let refusals = 0;
    for (let i = 0; i < 20 && refusals === 0; i++) {
      expect(await wave(gateway, "/api/processes", auth, 16)).toEqual(Array(16).fill("HTTP/1.1 200 OK"));
      refusals = await counter(gateway, "bpm_gateway_upstream_pipeline_refusals_total");
    }
    expect(refusals).toBeGreaterThan(0);
    // paused for this instance now: later waves are answered without further refusals
    for (let i = 0; i < 3; i++) expect(await wave(gateway, "/api/processes", auth, 16)).toEqual(Array(16).fill("HTTP/1.1 200 OK"));
    expect(await counter(gateway, "bpm_gateway_upstream_pipeline_refusals_total")).toBe(refusals);
  });
});
