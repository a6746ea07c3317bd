import { EventEmitter } from "node:events";
import Consul from "consul";
import { parseConsulIndex } from "./consul-index.ts";

/** Agent service registration body (PUT /v1/agent/service/register), Consul's own field names. */
export interface AgentServiceDefinition {
  ID: string;
  Name: string;
  Address: string;
  Port: number;
  Tags: string[];
  Meta: Record<string, string>;
  Weights: { Passing: number; Warning: number };
  Checks: AgentCheckDefinition[];
}

export interface AgentCheckDefinition {
  CheckID: string;
  Name: string;
  HTTP?: string;
  Method?: string;
  GRPC?: string;
  GRPCUseTLS?: boolean;
  /** The name checked against the certificate of an HTTPS or TLS gRPC check's target. */
  TLSServerName?: string;
  /** false: Consul verifies the certificate (with the agent's CA when enable_agent_tls_for_checks). */
  TLSSkipVerify?: boolean;
  Interval: string;
  Timeout: string;
  DeregisterCriticalServiceAfter: string;
  /** Initial status; Consul's default is critical until the first check runs. */
  Status?: "passing" | "warning" | "critical";
}

export interface HealthQuery {
  service: string;
  /** Blocking index; omitted on the first call. */
  index?: bigint;
  waitMs?: number;
  tag?: string;
  signal?: AbortSignal;
}

export interface HealthAnswer {
  /** The decoded body, unchecked: consul-mapping validates it. */
  readonly body: unknown;
  /** X-Consul-Index, undefined when absent or unreadable. */
  readonly index: bigint | undefined;
}

/** The Consul calls discovery and registration make; one implementation talks HTTP to the agent. */
export interface ConsulApi {
  /** "host:port" of the agent, for logs and health details. */
  readonly address: string;
  /** GET /v1/health/service/<name>?passing — blocking when `index` is given. */
  health(query: HealthQuery): Promise<HealthAnswer>;
  register(definition: AgentServiceDefinition, signal?: AbortSignal): Promise<void>;
  deregister(id: string, signal?: AbortSignal): Promise<void>;
  /** GET /v1/agent/service/<id>: whether the local agent still has this registration. */
  hasService(id: string, signal?: AbortSignal): Promise<boolean>;
  close(): void;
}

/** A failed Consul call, with the HTTP status when there was one. */
export class ConsulCallError extends Error {
  constructor(message: string, readonly status?: number, readonly code?: string) {
    super(message);
    this.name = "ConsulCallError";
  }
}

export interface ConsulHttpApiOptions {
  /** "host:port", "http://host:port" or "https://host:port". */
  address: string;
  datacenter?: string;
  token?: string;
  /** Bound on calls that do not block (register, deregister, lookups). */
  requestTimeoutMs?: number;
}

/** papi's request shape, which the `consul` package exposes only through its typed wrappers. */
interface PapiRequest {
  name: string;
  path: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  type?: "json";
  body?: unknown;
  timeout?: number;
  ctx?: EventEmitter;
}
interface PapiClient {
  _get(req: PapiRequest): Promise<unknown>;
  _put(req: PapiRequest): Promise<unknown>;
}
interface IncomingResponse {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}

/** Consul over HTTP through the `consul` npm package (v2, papi on node:http with a keep-alive agent). */
export class ConsulHttpApi implements ConsulApi {
  readonly address: string;
  private readonly client: Consul;
  private readonly raw: PapiClient;
  private readonly datacenter: string | undefined;
  private readonly headers: Record<string, string>;
  private readonly requestTimeoutMs: number;

  constructor(options: ConsulHttpApiOptions) {
    const secure = /^https:\/\//i.test(options.address);
    this.address = options.address.replace(/^https?:\/\//i, "").replace(/\/+$/, "");
    this.datacenter = options.datacenter;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5_000;
    this.headers = options.token ? { "x-consul-token": options.token } : {};
    // baseUrl (untyped but supported) keeps IPv6 "[::1]:8500" intact, which host/port would not
    this.client = new Consul({ baseUrl: `${secure ? "https" : "http"}://${this.address}/v1`, ...(options.token ? { defaults: { token: options.token } } : {}) } as ConstructorParameters<typeof Consul>[0]);
    this.raw = this.client as unknown as PapiClient;
  }

  async health(query: HealthQuery): Promise<HealthAnswer> {
    const blocking = query.index !== undefined;
    const waitMs = query.waitMs ?? 30_000;
    // Consul adds up to wait/16 of its own jitter before answering an idle blocking query.
    const timeout = blocking ? waitMs + Math.ceil(waitMs / 16) + this.requestTimeoutMs : this.requestTimeoutMs;
    const res = await this.call(query.signal, (ctx) =>
      this.client.health.service({
        service: query.service,
        passing: true,
        ...(query.tag ? { tag: query.tag } : {}),
        ...(this.datacenter ? { dc: this.datacenter } : {}),
        ...(blocking ? { index: query.index!.toString(), wait: `${waitMs}ms` } : {}),
        timeout,
        ctx,
      } as { service: string }), // the typings omit index, wait, timeout and ctx, which the code honours
    );
    const [response, body] = res as [IncomingResponse, unknown];
    return { body, index: parseConsulIndex(response.headers["x-consul-index"]) };
  }

  async register(definition: AgentServiceDefinition, signal?: AbortSignal): Promise<void> {
    // Raw PUT: the package's register() drops fields it does not know, Weights among them.
    await this.call(signal, (ctx) =>
      this.raw._put({ name: "agent.service.register", path: "/agent/service/register", type: "json", body: definition, headers: { ...this.headers }, timeout: this.requestTimeoutMs, ctx }),
    );
  }

  async deregister(id: string, signal?: AbortSignal): Promise<void> {
    await this.call(signal, (ctx) => this.client.agent.service.deregister({ id, timeout: this.requestTimeoutMs, ctx } as { id: string }));
  }

  async hasService(id: string, signal?: AbortSignal): Promise<boolean> {
    try {
      // The package has no wrapper for GET /v1/agent/service/<id>.
      await this.call(signal, (ctx) =>
        this.raw._get({ name: "agent.service.get", path: "/agent/service/{id}", params: { id }, headers: { ...this.headers }, timeout: this.requestTimeoutMs, ctx }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConsulCallError && error.status === 404) return false;
      throw error;
    }
  }

  close(): void {
    this.client.destroy();
  }

  /** Runs one package call with an abortable papi context (includeResponse: headers come back too). */
  private async call<T>(signal: AbortSignal | undefined, fn: (ctx: EventEmitter) => Promise<T>): Promise<T> {
    const ctx = Object.assign(new EventEmitter(), { includeResponse: true, canceled: false });
    const onAbort = () => {
      ctx.canceled = true;
      ctx.emit("cancel");
    };
    if (signal?.aborted) throw new ConsulCallError("aborted", undefined, "ABORTED");
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await fn(ctx);
    } catch (error) {
      throw toCallError(error);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

/** One error shape for logs and decisions, whatever papi, node:http or JSON.parse threw. */
function toCallError(error: unknown): ConsulCallError {
  if (error instanceof ConsulCallError) return error;
  const e = (error ?? {}) as { message?: unknown; code?: unknown; response?: IncomingResponse; isTimeout?: boolean; isAbort?: boolean };
  const status = e.response?.statusCode;
  const code = typeof e.code === "string" ? e.code : e.isTimeout ? "TIMEOUT" : e.isAbort ? "ABORTED" : error instanceof SyntaxError ? "BAD_JSON" : undefined;
  const detail = typeof e.message === "string" && e.message !== "" ? e.message : String(error);
  const message = status !== undefined ? `consul answered ${status}: ${detail}` : code !== undefined && !detail.includes(code) ? `${code}: ${detail}` : detail;
  return new ConsulCallError(message, status, code);
}
