import { describe, expect, test } from "bun:test";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BPM_BIN, freePort, runBpm, startBpm, tempDir } from "../support/bpm.ts";

describe("bpm command line", () => {
  test("--help and --version", async () => {
    const help = await runBpm(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--role");
    const version = await runBpm(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^bpm \d+\.\d+\.\d+/);
  });

  test.each([
    [["--role=nope"], /--role: unknown role "nope"/],
    [["--bogus"], /unknown flag --bogus/],
    [["--port", "70000", "--role=gateway"], /--port must be a port number/],
    [["--port", "9000"], /--port \(or BPM_PORT\) applies to a single role/],
    [["--role=gateway", "--grpc-port", "5000"], /--grpc-port \(or BPM_GRPC_PORT\) applies to a single/],
    [["--config", "/nonexistent.yaml"], /--config: file \/nonexistent.yaml does not exist/],
  ])("bad flags %p exit 2 with one clear line", async (args, message) => {
    const r = await runBpm(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.stderr).not.toContain("    at ");
  });

  test("a bad config value exits 2 naming the path, the expectation and the value", async () => {
    const dir = tempDir();
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "resilience4j:\n  circuitbreaker:\n    instances:\n      formService:\n        failureRateThreshold: 140\n");
    const r = await runBpm(["--config", file, "--data-dir", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("config: resilience4j.circuitbreaker.instances.formService.failureRateThreshold must be a number in 1..100, got 140");
  });

  test("broken YAML exits 2 with one line", async () => {
    const dir = tempDir();
    const file = join(dir, "broken.yaml");
    writeFileSync(file, "roles: [1, 2\n  x: }");
    const r = await runBpm(["--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^config: .*broken.yaml is not valid YAML/);
  });

  test("the binary copied alone to another directory runs every role (everything embedded)", async () => {
    const dir = tempDir("bpm-alone-");
    const bin = join(dir, "bpm");
    copyFileSync(BPM_BIN, bin);
    const { chmodSync } = await import("node:fs");
    chmodSync(bin, 0o755);
    const port = await freePort();
    const grpcPort = await freePort();
    const proc = Bun.spawn([bin, "--role=task-service", "--port", String(port), "--grpc-port", String(grpcPort)], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    try {
      let health: Response | undefined;
      for (let i = 0; i < 200 && !health; i++) {
        health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        if (!health) await Bun.sleep(25);
      }
      expect(health?.status).toBe(200);
      // SQLite went to ./data under the working directory
      expect(await Bun.file(join(dir, "data", "task-service.db")).exists()).toBe(true);
    } finally {
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    }
  });

  test.each([["gateway"], ["task-service"], ["form-service"], ["process-service"]])("--role=%s starts just that role", async (role) => {
    const bpm = await startBpm({ roles: [role as "gateway"] });
    try {
      const res = await fetch(`${bpm.url(role as "gateway")}/health`);
      expect([200, 503]).toContain(res.status);
      const others = (["gateway", "task-service", "form-service", "process-service"] as const).filter((r) => r !== role);
      for (const other of others) {
        const r = await fetch(`http://127.0.0.1:${bpm.ports[other].http}/health`).catch(() => "refused");
        expect(r).toBe("refused");
      }
    } finally {
      expect(await bpm.stop()).toBe(0);
    }
  });

  test("--role=gateway,task-service runs both in one process", async () => {
    const bpm = await startBpm({ roles: ["gateway", "task-service"] });
    try {
      expect((await fetch(`${bpm.url("gateway")}/health`)).status).toBe(200);
      expect((await fetch(`${bpm.url("task-service")}/health`)).status).toBe(200);
    } finally {
      await bpm.stop();
    }
  });
});
