import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import { ReflectionService } from "@grpc/reflection";
import healthProto from "../../protos/grpc/health/v1/health.proto" with { type: "text" };
import reflectionV1Proto from "../../protos/grpc/reflection/v1/reflection.proto" with { type: "text" };
import reflectionV1AlphaProto from "../../protos/grpc/reflection/v1alpha/reflection.proto" with { type: "text" };
import { BpmError, ValidationError } from "../core/errors.ts";
import { grpcCodeOfError } from "./grpc-status.ts";
import type { Principal } from "./principal.ts";
import { reflectionDescriptors, typeNamesOf } from "./proto-descriptors.ts";
import type { Logger } from "./logger.ts";
import type { Metrics } from "../telemetry/metrics.ts";
import { endGrpcServerSpan, startGrpcServerSpan } from "../telemetry/grpc-spans.ts";
import { runInSpan } from "../telemetry/tracing.ts";

export const PROTO_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

/**
 * Loads .proto sources embedded as text (a compiled binary has no proto files on
 * disk). google/protobuf/* imports resolve from protobufjs' bundled copies, each
 * added once however many sources import it. The package definition is built from
 * the Root's JSON (a descriptor round trip would turn map fields such as
 * Struct.fields into lists); reflection gets descriptors Go clients accept.
 */
export function loadProtos(sources: readonly string[], options: protoLoader.Options = PROTO_OPTIONS): { definition: protoLoader.PackageDefinition; root: protobuf.Root } {
  const root = new protobuf.Root();
  const importedTypes = new Map<string, string>();
  const imported = new Set<string>();
  for (const src of sources) {
    const parsed = protobuf.parse(src, root, { keepCase: options.keepCase ?? false, alternateCommentMode: true });
    for (const imp of parsed.imports ?? []) {
      if (imported.has(imp)) continue;
      const common = protobuf.common.get(imp);
      if (!common) throw new Error(`proto import ${imp} is not embedded`);
      imported.add(imp);
      root.addJSON(common.nested ?? {});
      for (const name of typeNamesOf(common)) importedTypes.set(name, imp);
    }
  }
  root.resolveAll();
  const definition = protoLoader.fromJSON(root.toJSON(), options);
  const files = reflectionDescriptors(root, importedTypes);
  for (const entry of Object.values(definition)) {
    if ("fileDescriptorProtos" in entry) (entry as { fileDescriptorProtos: Buffer[] }).fileDescriptorProtos = files;
  }
  return { definition, root };
}

export function serviceDefinition(definition: protoLoader.PackageDefinition, fullName: string): grpc.ServiceDefinition {
  const svc = definition[fullName];
  if (!svc) throw new Error(`service ${fullName} not found in loaded protos`);
  return svc as grpc.ServiceDefinition;
}

/** A request whose bytes did not decode: the handler answers INVALID_ARGUMENT instead of running. */
class UndecodableRequest {
  constructor(readonly reason: string) {}
}

/**
 * grpc-js answers a request that fails to decode with INTERNAL, as if the server broke; the
 * client sent bad bytes, so the handler turns the marker into INVALID_ARGUMENT (never a crash).
 */
function withSafeDeserializers(def: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(def)) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (err) {
          return new UndecodableRequest(err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return out as grpc.ServiceDefinition;
}

function decoded<Req>(request: Req): Req {
  if (request instanceof UndecodableRequest) throw new ValidationError(`request is not a valid protobuf message: ${request.reason}`);
  return request;
}

/** Turns anything thrown by a handler into a gRPC status with a readable message. */
export function toGrpcError(err: unknown): grpc.ServiceError {
  if (err instanceof BpmError) {
    const md = new grpc.Metadata();
    md.set("x-error-code", err.code);
    if (err.retryAfterMs !== undefined) md.set("retry-after-ms", String(err.retryAfterMs));
    return Object.assign(new Error(err.message), { code: grpcCodeOfError(err), details: err.message, metadata: md });
  }
  const e = err as Partial<grpc.ServiceError>;
  if (typeof e?.code === "number" && e.code >= 0 && e.code <= 16) return err as grpc.ServiceError;
  return Object.assign(new Error("internal error"), { code: grpc.status.INTERNAL, details: "internal error", metadata: new grpc.Metadata() });
}

type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

/** grpc.health.v1.Health: Check and Watch over a status map ("" is the whole server). */
class HealthService {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Map<string, Set<grpc.ServerWritableStream<{ service: string }, { status: ServingStatus }>>>();

  set(service: string, status: ServingStatus): void {
    this.statuses.set(service, status);
    for (const call of this.watchers.get(service) ?? []) call.write({ status });
  }

  setAll(status: ServingStatus): void {
    for (const name of this.statuses.keys()) this.set(name, status);
  }

  handlers(): grpc.UntypedServiceImplementation {
    return {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const status = this.statuses.get(call.request.service);
        if (status === undefined) cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
        else cb(null, { status });
      },
      Watch: (call: grpc.ServerWritableStream<{ service: string }, { status: ServingStatus }>) => {
        const name = call.request.service;
        let set = this.watchers.get(name);
        if (!set) this.watchers.set(name, (set = new Set()));
        set.add(call);
        call.write({ status: this.statuses.get(name) ?? "SERVICE_UNKNOWN" });
        const drop = () => set!.delete(call);
        call.on("cancelled", drop);
        call.on("close", drop);
      },
    };
  }

  endWatches(): void {
    for (const set of this.watchers.values()) for (const call of set) call.end();
    this.watchers.clear();
  }
}

const infra = {
  definition: {
    ...loadProtos([healthProto]).definition,
    // @grpc/reflection's handlers speak camelCase with bytes as arrays: load its protos its way
    ...loadProtos([reflectionV1Proto, reflectionV1AlphaProto], { longs: String, enums: String, bytes: Array, defaults: true, oneofs: true }).definition,
  },
};

/** The health service's definition alone, so reflection lists it beside ours. */
function healthOnly(): protoLoader.PackageDefinition {
  return Object.fromEntries(Object.entries(infra.definition).filter(([k]) => k.startsWith("grpc.health.")));
}

export interface GrpcServerOptions {
  role: string;
  log: Logger;
  metrics: Metrics;
  /**
   * Who calls, from the `authorization` metadata: every method added with addService needs a
   * credential this accepts (UNAUTHENTICATED otherwise); grpc.health.v1 and reflection stay open.
   */
  authenticate: (authorization: string | null) => Principal | Promise<Principal>;
  /** TLS or plaintext (platform/grpc-tls.ts); plaintext when absent. */
  credentials?: grpc.ServerCredentials;
}

/**
 * A grpc-js server with health, reflection, per-call metrics and one error
 * mapping. Handlers are plain async functions; thrown BpmErrors become statuses.
 */
export class GrpcServer {
  readonly server: grpc.Server;
  private readonly health = new HealthService();
  private readonly reflected: protoLoader.PackageDefinition = {};
  private readonly active = new Set<AbortController>();
  /** Subscriptions that never end by themselves; shutdown ends them first. */
  private readonly live = new Set<AbortController>();
  private inflight = 0;
  port = 0;

  constructor(private readonly opts: GrpcServerOptions) {
    this.server = new grpc.Server({
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
      "grpc.max_send_message_length": 16 * 1024 * 1024,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 5_000,
    });
    this.health.set("", "SERVING");
    this.server.addService(serviceDefinition(infra.definition, "grpc.health.v1.Health"), this.health.handlers());
  }

  /** Adds a service from a loaded package; `impl` maps method names to handlers made by unary()/serverStream(). */
  addService(definition: protoLoader.PackageDefinition, fullName: string, impl: Record<string, GrpcHandler>): void {
    const def = withSafeDeserializers(serviceDefinition(definition, fullName));
    const service = fullName;
    const wrapped: grpc.UntypedServiceImplementation = {};
    for (const [method, handler] of Object.entries(impl)) {
      if (!(method in def)) throw new Error(`${fullName} has no method ${method}`);
      wrapped[method] = handler.bind(this, service, method);
    }
    this.server.addService(def, wrapped);
    Object.assign(this.reflected, definition);
    this.health.set(fullName, "SERVING");
  }

  async listen(host: string, port: number): Promise<number> {
    // reflection is added last so it lists every service
    const reflection = new ReflectionService({ ...this.reflected, ...healthOnly() });
    const v1 = (reflection as unknown as { v1: { handleServerReflectionRequest(m: unknown): unknown } }).v1;
    const reflectionHandler = (stream: grpc.ServerDuplexStream<unknown, unknown>) => {
      stream.on("end", () => stream.end());
      stream.on("data", (msg) => stream.write(v1.handleServerReflectionRequest(msg)));
    };
    this.server.addService(serviceDefinition(infra.definition, "grpc.reflection.v1.ServerReflection"), { ServerReflectionInfo: reflectionHandler });
    this.server.addService(serviceDefinition(infra.definition, "grpc.reflection.v1alpha.ServerReflection"), { ServerReflectionInfo: reflectionHandler });
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`${host.includes(":") ? `[${host}]` : host}:${port}`, this.opts.credentials ?? grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    return this.port;
  }

  /** Health turns NOT_SERVING; callers see it before the port closes. */
  announceShutdown(): void {
    this.health.setAll("NOT_SERVING");
  }

  /** Waits for in-flight calls up to `graceMs`, then ends open streams and closes the port. */
  async shutdown(graceMs: number): Promise<void> {
    const until = Date.now() + graceMs;
    for (const ac of this.live) ac.abort();
    while (this.inflight > 0 && Date.now() < until) await Bun.sleep(20);
    for (const ac of this.active) ac.abort();
    this.health.endWatches();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, Math.max(200, until - Date.now()));
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** @internal bookkeeping used by unary()/serverStream() */
  track(delta: number, stream?: AbortController, live = false): void {
    this.inflight += delta;
    if (!stream) return;
    const set = live ? this.live : this.active;
    delta > 0 ? set.add(stream) : set.delete(stream);
  }

  /** @internal */
  observe(service: string, method: string, code: grpc.status, startedAt: number): void {
    const m = this.opts.metrics;
    m.grpcRequests.labels(this.opts.role, service, method, grpc.status[code] ?? String(code)).inc();
    m.grpcDuration.labels(this.opts.role, service, method).observe((performance.now() - startedAt) / 1000);
  }

  get log(): Logger {
    return this.opts.log;
  }

  /** @internal the caller of a call, from its `authorization` metadata */
  principal(metadata: grpc.Metadata): Principal | Promise<Principal> {
    const given = metadata.get("authorization")[0];
    return this.opts.authenticate(typeof given === "string" ? given : null);
  }

  get role(): string {
    return this.opts.role;
  }
}

export type GrpcHandler = (this: GrpcServer, service: string, method: string, ...args: any[]) => void;

/** A unary handler from an async function; its result is the reply. The caller is authenticated first. */
export function unary<Req, Res>(fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>, principal: Principal) => Promise<Res> | Res): GrpcHandler {
  return function (this: GrpcServer, service: string, method: string, call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>) {
    const started = performance.now();
    this.track(1);
    // the whole call runs in its server span, so the handler's logs and calls belong to it
    const span = startGrpcServerSpan(this.role, service, method, call.metadata);
    runInSpan(span, () =>
      Promise.resolve()
        .then(() => this.principal(call.metadata))
        .then((principal) => fn(decoded(call.request), call, principal))
        .then(
          (res) => {
            this.observe(service, method, grpc.status.OK, started);
            endGrpcServerSpan(span, grpc.status.OK);
            cb(null, res);
          },
          (err) => {
            const ge = toGrpcError(err);
            if (ge.code === grpc.status.INTERNAL) this.log.error("gRPC handler failed", { service, method, err });
            this.observe(service, method, ge.code, started);
            endGrpcServerSpan(span, ge.code, err);
            cb(ge);
          },
        )
        .finally(() => this.track(-1)),
    );
  };
}

/**
 * A server-streaming handler. `fn` writes with `call.write` and resolves when done;
 * it should watch `signal` (aborted when the client cancels or the server shuts down).
 * `live` streams (subscriptions) are ended first on shutdown; others may finish within the grace.
 */
export function serverStream<Req, Res>(
  fn: (req: Req, call: grpc.ServerWritableStream<Req, Res>, signal: AbortSignal, principal: Principal) => Promise<void>,
  opts: { live?: boolean } = {},
): GrpcHandler {
  return function (this: GrpcServer, service: string, method: string, call: grpc.ServerWritableStream<Req, Res>) {
    const started = performance.now();
    const ac = new AbortController();
    this.track(1, ac, opts.live);
    const cancel = () => ac.abort();
    call.on("cancelled", cancel);
    call.on("close", cancel);
    call.on("error", cancel);
    const span = startGrpcServerSpan(this.role, service, method, call.metadata);
    runInSpan(span, () =>
      Promise.resolve()
        .then(() => this.principal(call.metadata))
        .then((principal) => fn(decoded(call.request), call, ac.signal, principal))
        .then(
          () => {
            const code = call.cancelled ? grpc.status.CANCELLED : grpc.status.OK;
            this.observe(service, method, code, started);
            endGrpcServerSpan(span, code);
            if (!call.cancelled && !call.writableEnded) call.end();
          },
          (err) => {
            const ge = toGrpcError(err);
            if (ge.code === grpc.status.INTERNAL) this.log.error("gRPC stream failed", { service, method, err });
            this.observe(service, method, ge.code, started);
            endGrpcServerSpan(span, ge.code, err);
            // emit, not destroy: grpc-js sends the status from 'error'; destroy() would skip it and hang the client
            if (!call.cancelled) call.emit("error", ge);
          },
        )
        .finally(() => {
          ac.abort();
          this.track(-1, ac, opts.live);
        }),
    );
  };
}

/** Writes to a gRPC stream respecting backpressure; resolves when the message is accepted. */
export function writeWithBackpressure<T>(call: grpc.ServerWritableStream<unknown, T>, msg: T, signal: AbortSignal): Promise<void> {
  if (call.write(msg)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.on("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

export const invalidArgument = (message: string, details?: unknown) => new ValidationError(message, details);
