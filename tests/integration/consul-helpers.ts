// Shared by tests/integration/consul*.test.ts: bpm processes against a real Consul agent.
import { hostname } from "node:os";
import { authHeaders, startBpm, type BpmOptions, type BpmProcess } from "../support/bpm.ts";

export type Role = "gateway" | "task-service" | "form-service" | "process-service";

/** Checks every second so tests run in seconds; one test keeps the seed's 10 s / 5 s. */
export const FAST_CHECKS = { interval: "1s", timeout: "1s", deregister_critical_service_after: "30s" };

/** A role started against the Consul agent at `httpAddr` (CONSUL_HTTP_ADDR, as users do). */
export async function startWithConsul(role: Role, httpAddr: string, opts: BpmOptions & { checks?: Record<string, string> } = {}): Promise<BpmProcess> {
  const { checks, ...rest } = opts;
  return startBpm({
    ...rest,
    roles: [role],
    env: { CONSUL_HTTP_ADDR: httpAddr, ...rest.env },
    config: deepMergeAll(
      {
        consul: { checks: checks ?? FAST_CHECKS, backoff: { initial: "100ms", max: "1s" } },
        // a cached GET answer would hide a failed one
        fallback: { shouldCache: false },
      },
      rest.config ?? {},
    ),
  });
}

function deepMergeAll(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = cur && v && typeof cur === "object" && typeof v === "object" && !Array.isArray(cur) && !Array.isArray(v) ? deepMergeAll(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** The Consul service ID a role instance registers with (DESIGN.md: <role>-<host>-<port>). */
export function serviceId(role: Role, bpm: BpmProcess): string {
  return `${role}-${hostname().replace(/[^A-Za-z0-9._-]+/g, "_")}-${bpm.ports[role].http}`;
}

interface HealthEntry {
  Service: { ID: string };
  Checks: { CheckID: string; Status: string; ServiceID: string }[];
}

/** IDs Consul reports passing for `service` right now. */
export async function passingIds(consulUrl: string, service: string): Promise<string[]> {
  const res = await fetch(`${consulUrl}/v1/health/service/${service}?passing`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`consul health ${res.status}`);
  return ((await res.json()) as HealthEntry[]).map((e) => e.Service.ID).sort();
}

/** Polls (every 20 ms) until `check` holds; returns the epoch ms it first held. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 20): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return Date.now();
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await Bun.sleep(intervalMs);
  }
}

/** Waits with a Consul blocking query until `id` is passing; returns the epoch ms Consul told us. */
export async function waitPassing(consulUrl: string, service: string, id: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let index = "";
  while (Date.now() < deadline) {
    const res = await fetch(`${consulUrl}/v1/health/service/${service}?passing${index ? `&index=${index}&wait=5s` : ""}`, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
    const at = Date.now();
    if (!res?.ok) {
      // an agent still starting answers 500 (or not at all): ask again shortly, from scratch
      await res?.arrayBuffer();
      index = "";
      await Bun.sleep(50);
      continue;
    }
    index = res.headers.get("x-consul-index") ?? "";
    const list = (await res.json()) as HealthEntry[];
    if (list.some((e) => e.Service.ID === id)) return at;
  }
  throw new Error(`${id} not passing within ${timeoutMs} ms`);
}

/** What the gateway's discovery knows (its /health "discovery" detail). */
export async function gatewayDiscovery(gw: BpmProcess): Promise<{ status: string; detail: string; instances: Record<string, number> }> {
  const body = (await (await fetch(`${gw.url()}/health`, { signal: AbortSignal.timeout(3_000) })).json()) as {
    details: { discovery: { status: string; details: { detail?: string; instances: Record<string, number> } } };
  };
  const d = body.details.discovery;
  return { status: d.status, detail: d.details.detail ?? "", instances: d.details.instances };
}

/** Requests this task-service instance served on /api/tasks, read from its own /metrics. */
export async function servedCount(bpm: BpmProcess): Promise<number> {
  const text = await (await fetch(`${bpm.url("task-service")}/metrics`, { signal: AbortSignal.timeout(3_000) })).text();
  let n = 0;
  for (const m of text.matchAll(/^bpm_http_requests_total\{[^}]*route="\/api\/tasks"[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

export interface Traffic {
  stop(): Promise<{ ok: number; failed: number; statuses: Record<string, number> }>;
  readonly ok: number;
}

/** GET /api/tasks through the gateway back to back until stopped; anything but a fresh 200 is a failure. */
export async function steadyTraffic(gw: BpmProcess, pauseMs = 5): Promise<Traffic> {
  const headers = await authHeaders(1);
  let running = true;
  let ok = 0;
  let failed = 0;
  const statuses: Record<string, number> = {};
  const loop = (async () => {
    while (running) {
      let key: string;
      try {
        const res = await fetch(`${gw.url()}/api/tasks?user_id=1`, { headers, signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        key = res.headers.get("x-fallback") ? `${res.status}+fallback` : String(res.status);
      } catch (error) {
        key = `error:${(error as Error).name}`;
      }
      statuses[key] = (statuses[key] ?? 0) + 1;
      if (key === "200") ok++;
      else failed++;
      if (pauseMs > 0) await Bun.sleep(pauseMs);
    }
  })();
  return {
    get ok() {
      return ok;
    },
    async stop() {
      running = false;
      await loop;
      return { ok, failed, statuses };
    },
  };
}

/** utime + stime of a process in seconds (/proc/<pid>/stat fields 14 and 15, in clock ticks). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text();
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // CLK_TCK is 100 on Linux
}
