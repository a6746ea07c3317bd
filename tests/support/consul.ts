// Real Consul agents for tests: one dev-mode agent, or the seed's 3-server cluster (config/consul/).
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { freePorts } from "./ports.ts";
import { makeTempDir, probeFetch, removeTempDir, spawnLogged, waitFor, type LoggedProcess } from "./process.ts";
import { toolPath } from "./tools.ts";

const repoRoot = resolve(import.meta.dir, "..", "..");

export interface ConsulAgent {
  /** "127.0.0.1:PORT", the form CONSUL_HTTP_ADDR takes. */
  readonly httpAddr: string;
  /** "http://127.0.0.1:PORT". */
  readonly url: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly nodeName: string;
  /** Graceful stop (SIGTERM), then the temp dir is removed. */
  stop(): Promise<void>;
  /** kill -9; the agent stays down until restart(). */
  kill(): Promise<void>;
  /** Stops if running, starts again on the same ports, waits for a leader. A dev agent forgets its state. */
  restart(): Promise<void>;
}

export interface ConsulOptions {
  nodeName?: string;
  /** Merged into the agent's JSON config (e.g. { acl: {...} }). */
  extraConfig?: Record<string, unknown>;
  readyTimeoutMs?: number;
}

async function leaderOf(url: string): Promise<string | undefined> {
  const response = await probeFetch(`${url}/v1/status/leader`);
  if (!response.ok) return undefined;
  const leader = (await response.json()) as unknown;
  return typeof leader === "string" && leader !== "" ? leader : undefined;
}

/** A `consul agent -dev` on 127.0.0.1 with every port picked free; resolves once it has a leader and its node is in the catalog. */
export async function startConsul(options: ConsulOptions = {}): Promise<ConsulAgent> {
  const consul = toolPath("consul");
  const dataDir = makeTempDir("consul");
  const [http, serfLan, serfWan, server, grpc] = (await freePorts(5)) as [number, number, number, number, number];
  const nodeName = options.nodeName ?? `bpm-test-${http}`;
  const configFile = join(dataDir, "agent.json");
  const config = {
    node_name: nodeName,
    bind_addr: "127.0.0.1",
    client_addr: "127.0.0.1",
    advertise_addr: "127.0.0.1",
    disable_update_check: true,
    ports: { http, dns: -1, serf_lan: serfLan, serf_wan: serfWan, server, grpc, grpc_tls: -1 },
    ...options.extraConfig,
  };
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const url = `http://127.0.0.1:${http}`;
  const logFile = join(dataDir, "consul.log");
  let agent: LoggedProcess | undefined;

  const launch = async (): Promise<void> => {
    agent = spawnLogged({ name: "consul", cmd: [consul, "agent", "-dev", "-config-file", configFile], logFile });
    const running = agent;
    await waitFor(
      async () => {
        if ((await leaderOf(url)) === undefined) return undefined;
        const node = await probeFetch(`${url}/v1/catalog/node/${nodeName}`);
        return node.ok && (await node.json()) !== null ? true : undefined;
      },
      { what: `consul dev agent on ${url}`, timeoutMs: options.readyTimeoutMs ?? 30_000, process: running },
    );
  };
  await launch();

  return {
    httpAddr: `127.0.0.1:${http}`,
    url,
    dataDir,
    logFile,
    nodeName,
    async stop() {
      await agent?.stop("SIGTERM");
      removeTempDir(dataDir);
    },
    async kill() {
      await agent?.kill();
    },
    async restart() {
      await agent?.stop("SIGTERM");
      await launch();
    },
  };
}

export interface ConsulServer {
  readonly name: string;
  readonly httpAddr: string;
  readonly url: string;
  /** "IP:PORT" of its raft (server RPC) listener, as /v1/status/leader reports it. */
  readonly raftAddr: string;
  readonly logFile: string;
  readonly running: boolean;
  stop(): Promise<void>;
  kill(): Promise<void>;
  /** Starts it again with the same data and ports; it rejoins the cluster. */
  restart(): Promise<void>;
}

export interface ConsulCluster {
  readonly servers: ConsulServer[];
  readonly dir: string;
  /** httpAddr of the current leader, once the running servers agree on one of them. */
  leader(options?: { timeoutMs?: number }): Promise<string>;
  stop(): Promise<void>;
}

const serverNames = ["server-1", "server-2", "server-3"] as const;
const overridden = /^(retry_join|data_dir|bind_addr|client_addr)\s*=/;

/** Linux routes all of 127/8 to loopback, so the seed's 127.0.0.2..4 work; elsewhere use 127.0.0.1. */
function loopbackAddress(configured: string): string {
  return process.platform === "linux" ? configured : "127.0.0.1";
}

/**
 * The seed's 3-server cluster from config/consul/server-{1,2,3}.hcl, each file with its addresses,
 * data dir and join list replaced for this run (ports picked free). Resolves once a leader is elected.
 */
export async function startConsulCluster(options: { readyTimeoutMs?: number } = {}): Promise<ConsulCluster> {
  const consul = toolPath("consul");
  const dir = makeTempDir("consul-cluster");
  const plans = [];
  for (const name of serverNames) {
    const seedFile = join(repoRoot, "config", "consul", `${name}.hcl`);
    const seed = readFileSync(seedFile, "utf8");
    const bind = /^bind_addr\s*=\s*"([^"]+)"/m.exec(seed)?.[1] ?? "127.0.0.1";
    const ip = loopbackAddress(bind);
    const [http, serfLan, serfWan, server] = (await freePorts(4, ip)) as [number, number, number, number];
    plans.push({ name, seedFile, seed, ip, http, serfLan, serfWan, server });
  }
  const joinList = plans.map((p) => `"${p.ip}:${p.serfLan}"`).join(", ");
  const servers: Array<ConsulServer & { launch(): void }> = [];
  for (const plan of plans) {
    const serverDir = join(dir, plan.name);
    const configFile = `${serverDir}.hcl`;
    const kept = plan.seed.split("\n").filter((line) => !overridden.test(line));
    writeFileSync(
      configFile,
      [
        `# Effective config: ${plan.seedFile} with this run's addresses and ports.`,
        ...kept,
        "# --- run-time overrides (tests/support/consul.ts) ---",
        `data_dir    = "${serverDir}"`,
        `bind_addr   = "${plan.ip}"`,
        `client_addr = "${plan.ip}"`,
        `retry_join  = [${joinList}]`,
        `ports {`,
        `  http = ${plan.http}`,
        `  dns = -1`,
        `  grpc = -1`,
        `  grpc_tls = -1`,
        `  serf_lan = ${plan.serfLan}`,
        `  serf_wan = ${plan.serfWan}`,
        `  server = ${plan.server}`,
        `}`,
        "",
      ].join("\n"),
    );
    const logFile = `${serverDir}.log`;
    let agent: LoggedProcess | undefined;
    const launch = (): void => {
      agent = spawnLogged({ name: plan.name, cmd: [consul, "agent", "-config-file", configFile], logFile });
    };
    servers.push({
      name: plan.name,
      httpAddr: `${plan.ip}:${plan.http}`,
      url: `http://${plan.ip}:${plan.http}`,
      raftAddr: `${plan.ip}:${plan.server}`,
      logFile,
      get running() {
        return agent?.running ?? false;
      },
      launch,
      async stop() {
        await agent?.stop("SIGTERM");
      },
      async kill() {
        await agent?.kill();
      },
      async restart() {
        await agent?.stop("SIGTERM");
        launch();
      },
    });
  }
  for (const server of servers) server.launch();

  const leader = async ({ timeoutMs = 30_000 } = {}): Promise<string> =>
    waitFor(
      async () => {
        const up = servers.filter((s) => s.running);
        const seen = await Promise.all(up.map((s) => leaderOf(s.url).catch(() => undefined)));
        const first = seen[0];
        if (first === undefined || seen.some((l) => l !== first)) return undefined;
        // Right after the leader dies, followers still name it until their lease runs out.
        return up.find((s) => s.raftAddr === first)?.httpAddr;
      },
      { what: `consul cluster leader (logs: ${dir}/*.log)`, timeoutMs },
    );

  try {
    await leader({ timeoutMs: options.readyTimeoutMs ?? 60_000 });
  } catch (error) {
    await Promise.all(servers.map((s) => s.kill()));
    throw error;
  }

  return {
    servers,
    dir,
    leader,
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      removeTempDir(dir);
    },
  };
}
