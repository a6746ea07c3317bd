import { describe, expect, test } from "bun:test";
import { parseCommand } from "../../src/cli.ts";

// Containers fix the role in the entrypoint and set BPM_PORT so the listener and the HEALTHCHECK agree.
describe("ports from the environment (BPM_PORT, BPM_GRPC_PORT, BPM_HEALTH_PORT)", () => {
  test("a single role listens on BPM_PORT / BPM_GRPC_PORT", () => {
    expect(parseCommand(["--role=task-service"], { BPM_PORT: "9100", BPM_GRPC_PORT: "9101" })).toMatchObject({ kind: "run", port: 9100, grpcPort: 9101 });
  });

  test("a flag wins over its variable", () => {
    expect(parseCommand(["--role=task-service", "--port", "9200"], { BPM_PORT: "9100" })).toMatchObject({ port: 9200 });
  });

  test("bpm health probes BPM_HEALTH_PORT, else BPM_PORT, and --port over both", () => {
    expect(parseCommand(["health"], { BPM_PORT: "9100" })).toMatchObject({ kind: "health", port: 9100 });
    expect(parseCommand(["health"], { BPM_PORT: "9100", BPM_HEALTH_PORT: "9300" })).toMatchObject({ port: 9300 });
    expect(parseCommand(["health", "--port", "9400"], { BPM_PORT: "9100" })).toMatchObject({ port: 9400 });
    expect(parseCommand(["health"], {})).toMatchObject({ port: undefined });
  });

  test("a bad value names the variable, and BPM_PORT with several roles is refused", () => {
    expect(() => parseCommand(["--role=gateway"], { BPM_PORT: "http" })).toThrow('BPM_PORT must be a port number in 0..65535, got "http"');
    expect(() => parseCommand(["--role=all"], { BPM_PORT: "9100" })).toThrow("--port (or BPM_PORT) applies to a single role");
    expect(() => parseCommand(["--role=gateway"], { BPM_GRPC_PORT: "9101" })).toThrow("--grpc-port (or BPM_GRPC_PORT) applies");
  });

  test("an empty variable counts as unset", () => {
    expect(parseCommand(["--role=gateway"], { BPM_PORT: "" })).toMatchObject({ port: undefined });
  });
});
