import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { balancerOptionsFor, parseLoadBalancerConfig } from "../../../src/balancing/config.ts";
import { parseYaml } from "../../../src/config/loader.ts";

const DEFAULTS = parseYaml(readFileSync(join(import.meta.dir, "../../../config/default.yaml"), "utf8"), "default.yaml") as { load_balancer: unknown };

describe("default.yaml's load_balancer", () => {
  test("the seed's max_connections 1000 applies to every instance discovery finds", () => {
    const options = balancerOptionsFor(parseLoadBalancerConfig(DEFAULTS.load_balancer), "process-service");
    expect(options.maxConnections).toBe(1000);
  });

  test("names no backend that discovery can never produce (ids are <role>-<host>-<port>, or address:port)", () => {
    const options = balancerOptionsFor(parseLoadBalancerConfig(DEFAULTS.load_balancer), "process-service");
    for (const name of options.backends.keys()) expect(name).toMatch(/^(.+:\d+|[a-z][a-z0-9-]*-[^-]+-\d+)$/);
    expect(options.backends.has("process-service-1")).toBe(false);
  });
});
