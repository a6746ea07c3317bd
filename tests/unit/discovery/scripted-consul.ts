// A ConsulApi whose answers the test gives one call at a time, for the watch and registration
// state machines (driven by a FakeClock). Behaviour against a real agent: tests/integration/consul*.
import type { AgentServiceDefinition, ConsulApi, HealthAnswer, HealthQuery } from "../../../src/discovery/consul-client.ts";
import { ConsulCallError } from "../../../src/discovery/consul-client.ts";
import type { Logger } from "../../../src/platform/logger.ts";

interface Pending<Q, A> {
  query: Q;
  resolve(answer: A): void;
  reject(error: unknown): void;
}

export type Call =
  | { kind: "health"; query: HealthQuery }
  | { kind: "register"; definition: AgentServiceDefinition }
  | { kind: "deregister"; id: string }
  | { kind: "hasService"; id: string };

export class ScriptedConsul implements ConsulApi {
  readonly address = "scripted:8500";
  readonly calls: Call[] = [];
  private readonly pending: Pending<Call, unknown>[] = [];
  closed = false;

  health(query: HealthQuery): Promise<HealthAnswer> {
    return this.enqueue({ kind: "health", query }, query.signal);
  }
  register(definition: AgentServiceDefinition, signal?: AbortSignal): Promise<void> {
    return this.enqueue({ kind: "register", definition }, signal);
  }
  deregister(id: string, signal?: AbortSignal): Promise<void> {
    return this.enqueue({ kind: "deregister", id }, signal);
  }
  hasService(id: string, signal?: AbortSignal): Promise<boolean> {
    return this.enqueue({ kind: "hasService", id }, signal);
  }
  close(): void {
    this.closed = true;
  }

  /** Calls waiting for an answer. */
  get waiting(): number {
    return this.pending.length;
  }

  /** Lets queued promise callbacks run until `n` calls wait (no timers involved). */
  async untilWaiting(n = 1): Promise<Call> {
    for (let i = 0; i < 200 && this.pending.length < n; i++) await Promise.resolve();
    const p = this.pending[n - 1];
    if (!p) throw new Error(`expected ${n} pending call(s), have ${this.pending.length}`);
    return p.query;
  }

  /** Lets queued callbacks run without expecting a new call. */
  async settle(): Promise<void> {
    for (let i = 0; i < 200; i++) await Promise.resolve();
  }

  /** Answers the oldest waiting call. */
  answer(value: unknown): void {
    this.take().resolve(value);
  }

  /** A health answer: body plus X-Consul-Index. */
  answerHealth(body: unknown, index: bigint | undefined): void {
    this.answer({ body, index });
  }

  fail(error: unknown = new ConsulCallError("connect ECONNREFUSED", undefined, "ECONNREFUSED")): void {
    this.take().reject(error);
  }

  private take(): Pending<Call, unknown> {
    const p = this.pending.shift();
    if (!p) throw new Error("no call is waiting");
    return p;
  }

  private enqueue<A>(call: Call, signal?: AbortSignal): Promise<A> {
    this.calls.push(call);
    return new Promise<A>((resolve, reject) => {
      const entry: Pending<Call, unknown> = { query: call, resolve: resolve as (a: unknown) => void, reject };
      this.pending.push(entry);
      signal?.addEventListener("abort", () => {
        const i = this.pending.indexOf(entry);
        if (i >= 0) this.pending.splice(i, 1);
        reject(new ConsulCallError("aborted", undefined, "ABORTED"));
      });
    });
  }
}

/** One /v1/health/service entry as Consul returns it. */
export function entry(id: string, port: number, extra: { address?: string; nodeAddress?: string; grpc?: number; weight?: number; tags?: string[] } = {}): unknown {
  return {
    Node: { Node: "n1", Address: extra.nodeAddress ?? "10.0.0.9" },
    Service: {
      ID: id,
      Service: "task-service",
      Address: extra.address ?? "127.0.0.1",
      Port: port,
      Tags: extra.tags ?? ["v1"],
      Meta: extra.grpc ? { grpc_port: String(extra.grpc), role: "task-service" } : { role: "task-service" },
      ...(extra.weight !== undefined ? { Weights: { Passing: extra.weight, Warning: 1 } } : {}),
    },
    Checks: [],
  };
}

export interface LogLine {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields?: Record<string, unknown>;
}

/** A Logger that keeps its lines for assertions (and prints nothing). */
export function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const make = (): Logger => ({
    debug: (msg, fields) => void lines.push({ level: "debug", msg, ...(fields ? { fields } : {}) }),
    info: (msg, fields) => void lines.push({ level: "info", msg, ...(fields ? { fields } : {}) }),
    warn: (msg, fields) => void lines.push({ level: "warn", msg, ...(fields ? { fields } : {}) }),
    error: (msg, fields) => void lines.push({ level: "error", msg, ...(fields ? { fields } : {}) }),
    child: () => make(),
    enabled: () => true,
  });
  return Object.assign(make(), { lines });
}
