// Real servers for tests, started on free loopback ports and killed when the test process exits.
// Tools come from scripts/tools.sh (pinned, cached in ~/.cache/bpm-tools).
export { freePort, freePorts } from "./ports.ts";
export { toolPath } from "./tools.ts";
export { startConsul, startConsulCluster } from "./consul.ts";
export type { ConsulAgent, ConsulCluster, ConsulOptions, ConsulServer } from "./consul.ts";
export { startPostgres } from "./postgres.ts";
export type { PostgresServer } from "./postgres.ts";
export { startJaeger } from "./jaeger.ts";
export type { JaegerServer } from "./jaeger.ts";
export { spawnLogged, waitFor, makeTempDir, removeTempDir, logTail } from "./process.ts";
export type { LoggedProcess, SpawnOptions, WaitOptions } from "./process.ts";
