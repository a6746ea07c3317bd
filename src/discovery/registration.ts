import { hostname } from "node:os";
import type { Role } from "../config/schema.ts";
import { type Clock, type Random, systemClock, systemRandom, type TimerHandle } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { Backoff } from "./consul-backoff.ts";
import { type AgentServiceDefinition, type ConsulApi, ConsulCallError } from "./consul-client.ts";
import type { ConsulOutage } from "./consul-outage.ts";
import { describe } from "./consul-outage.ts";

export interface ServiceDefinitionInput {
  role: Role;
  /** Stable part of the ID: this machine's hostname. */
  host: string;
  /** Where Consul and peers reach this instance (config.advertise_address). */
  address: string;
  httpPort: number;
  /** Absent for the gateway: then only the HTTP check. */
  grpcPort?: number;
  tags: readonly string[];
  version: string;
  weight: number;
  checks: { intervalMs: number; timeoutMs: number; deregisterCriticalServiceAfterMs: number };
  /** The HTTP port serves HTTPS (`http_tls`): the check says https and verifies, against this name when given. */
  httpTls?: { serverName?: string };
  /** The gRPC port serves TLS (`grpc_tls`): the check uses TLS and verifies, against this name when given. */
  grpcTls?: { serverName?: string };
}

/** A TLS check verifies the certificate; TLSServerName when the certificate names a DNS name, not the address. */
function tlsCheck(tls: { serverName?: string }): { TLSSkipVerify: false; TLSServerName?: string } {
  return { TLSSkipVerify: false, ...(tls.serverName !== undefined ? { TLSServerName: tls.serverName } : {}) };
}

/** "10s" for whole seconds, else "1500ms": Consul reads both, and shows whole seconds as "10s". */
export function goDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.round(ms)}ms`;
}

/** The ID part made of the hostname: Consul IDs are used in URLs, so only [A-Za-z0-9._-]. */
function idSafe(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, "_") || "host";
}

/** `http://` URL host part; IPv6 literals need brackets. */
function hostPort(address: string, port: number): string {
  return address.includes(":") && !address.startsWith("[") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** docs/consul.md "Registration": Name = role, ID = <role>-<host>-<port>, Meta {grpc_port, version, role}, HTTP + gRPC checks. */
export function serviceDefinition(input: ServiceDefinitionInput): AgentServiceDefinition {
  const id = `${input.role}-${idSafe(input.host)}-${input.httpPort}`;
  const { intervalMs, timeoutMs, deregisterCriticalServiceAfterMs } = input.checks;
  const timing = { Interval: goDuration(intervalMs), Timeout: goDuration(timeoutMs), DeregisterCriticalServiceAfter: goDuration(deregisterCriticalServiceAfterMs) };
  const checks: AgentServiceDefinition["Checks"] = [
    {
      CheckID: `service:${id}:http`,
      Name: `${input.role} HTTP /health`,
      HTTP: `${input.httpTls ? "https" : "http"}://${hostPort(input.address, input.httpPort)}/health`,
      Method: "GET",
      ...(input.httpTls ? tlsCheck(input.httpTls) : {}),
      ...timing,
    },
  ];
  if (input.grpcPort !== undefined && input.grpcPort > 0) {
    // Consul's gRPC check calls grpc.health.v1.Health/Check for the whole server ("")
    checks.push({ CheckID: `service:${id}:grpc`, Name: `${input.role} gRPC health`, GRPC: hostPort(input.address, input.grpcPort), GRPCUseTLS: input.grpcTls !== undefined, ...(input.grpcTls ? tlsCheck(input.grpcTls) : {}), ...timing });
  }
  return {
    ID: id,
    Name: input.role,
    Address: input.address,
    Port: input.httpPort,
    Tags: [...input.tags],
    Meta: { role: input.role, version: input.version, ...(input.grpcPort ? { grpc_port: String(input.grpcPort) } : {}) },
    // Warning 1: an instance whose check warns gets almost no traffic (Consul's own default)
    Weights: { Passing: input.weight, Warning: 1 },
    Checks: checks,
  };
}

export type RegistrationState = "registering" | "registered" | "deregistered";

export interface RegistrationOptions {
  api: ConsulApi;
  log: Logger;
  outage: ConsulOutage;
  clock?: Clock;
  random?: Random;
  /** How often to check the agent still has us. */
  antiEntropyMs: number;
  backoff: { initialMs: number; maxMs: number };
  /** Bound on the deregister call at shutdown. */
  deregisterTimeoutMs?: number;
}

/**
 * Keeps one role instance registered with the local agent: registers at start (retrying with
 * backoff while the agent is away), checks every antiEntropyMs that the agent still has it and
 * registers again when not (agent restarted or lost its state), deregisters on shutdown.
 */
export class ConsulRegistration {
  readonly id: string;
  private stateNow: RegistrationState = "registering";
  private stopped = false;
  private abort: AbortController | undefined;
  private sleeping: { timer: TimerHandle; wake: () => void } | undefined;
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private lastRefusal: string | undefined;
  private registrations = 0;
  private loop: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(readonly definition: AgentServiceDefinition, private readonly options: RegistrationOptions) {
    this.id = definition.ID;
    this.clock = options.clock ?? systemClock;
    this.backoff = new Backoff({ ...options.backoff, random: options.random ?? systemRandom });
  }

  get state(): RegistrationState {
    return this.stateNow;
  }

  /** Times the agent accepted our registration (more than 1: it had lost it). */
  get registeredCount(): number {
    return this.registrations;
  }

  start(): void {
    // an agent back from an outage may have lost us: check now rather than at the next interval
    this.unsubscribe ??= this.options.outage.onRecovered(() => this.wake());
    this.loop ??= this.run();
  }

  /** Stops the anti-entropy loop and removes the service from the agent (its checks go with it). */
  async deregister(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.abort?.abort();
    this.wake();
    await this.loop;
    const { api, log } = this.options;
    const signal = AbortSignal.timeout(this.options.deregisterTimeoutMs ?? 3_000);
    try {
      await api.deregister(this.id, signal);
      log.info("deregistered from consul", { service_id: this.id });
    } catch (error) {
      log.warn("could not deregister from consul; it drops us once our checks fail for deregister_critical_service_after", { service_id: this.id, error: describe(error) });
    }
    this.stateNow = "deregistered";
  }

  private async run(): Promise<void> {
    const { api, log, outage, antiEntropyMs } = this.options;
    while (!this.stopped) {
      this.abort = new AbortController();
      try {
        if (this.stateNow === "registering") {
          await api.register(this.registrations === 0 ? this.definition : this.restored(), this.abort.signal);
          if (this.stopped) break;
          this.stateNow = "registered";
          this.registrations++;
          log.info(this.registrations === 1 ? "registered in consul" : "registered in consul again (the agent had lost us)", { service_id: this.id, name: this.definition.Name });
        } else if (!(await api.hasService(this.id, this.abort.signal))) {
          if (this.stopped) break;
          log.warn("consul agent no longer has our registration (restarted?); registering again", { service_id: this.id });
          this.stateNow = "registering";
          continue;
        }
        outage.succeeded(`registration of ${this.id}`);
        this.lastRefusal = undefined;
        this.backoff.reset();
        await this.sleep(antiEntropyMs);
      } catch (error) {
        if (this.stopped) break;
        this.report(error);
        await this.sleep(this.backoff.next());
      }
    }
  }

  /**
   * The definition for registering again after the agent lost us: this instance was passing a
   * moment ago, so its checks start passing instead of critical and it is not dropped from
   * discovery for a whole check interval; the first real check still decides.
   */
  private restored(): AgentServiceDefinition {
    return { ...this.definition, Checks: this.definition.Checks.map((c) => ({ ...c, Status: "passing" as const })) };
  }

  /** An agent that answers "no" (ACL, bad definition) is a config problem, not an outage. */
  private report(error: unknown): void {
    const { log, outage } = this.options;
    if (error instanceof ConsulCallError && error.status !== undefined && error.status < 500) {
      const message = describe(error);
      if (message !== this.lastRefusal) log.error("consul refused our registration", { service_id: this.id, error: message });
      this.lastRefusal = message;
      return;
    }
    outage.failed(`registration of ${this.id}`, error, `${this.id} is not registered yet and the role keeps running`);
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.sleeping = undefined;
        resolve();
      }, ms);
      timer.unref?.();
      this.sleeping = { timer, wake: resolve };
    });
  }

  private wake(): void {
    if (!this.sleeping) return;
    this.clock.clearTimeout(this.sleeping.timer);
    this.sleeping.wake();
    this.sleeping = undefined;
  }
}

export interface RegistrarOptions extends Omit<RegistrationOptions, "log"> {
  log: Logger;
  tags: readonly string[];
  address: string;
  version: string;
  weight: number;
  checks: ServiceDefinitionInput["checks"];
  httpTls?: ServiceDefinitionInput["httpTls"];
  grpcTls?: ServiceDefinitionInput["grpcTls"];
  /** Default: os.hostname(). */
  host?: string;
}

/** All registrations of this process: one per role instance, deregistered together on shutdown. */
export class ConsulRegistrar {
  private readonly all: ConsulRegistration[] = [];
  private readonly host: string;

  constructor(private readonly options: RegistrarOptions) {
    this.host = options.host ?? hostname();
  }

  register(role: Role, httpPort: number, grpcPort?: number): ConsulRegistration {
    const { tags, address, version, weight, checks, httpTls, grpcTls } = this.options;
    const tls = { ...(httpTls ? { httpTls } : {}), ...(grpcTls ? { grpcTls } : {}) };
    const definition = serviceDefinition({ role, host: this.host, address, httpPort, ...(grpcPort ? { grpcPort } : {}), tags, version, weight, checks, ...tls });
    const registration = new ConsulRegistration(definition, { ...this.options, log: this.options.log.child({ role }) });
    this.all.push(registration);
    registration.start();
    return registration;
  }

  registrations(): readonly ConsulRegistration[] {
    return this.all;
  }

  async deregisterAll(): Promise<void> {
    await Promise.all(this.all.map((r) => r.deregister()));
  }
}
