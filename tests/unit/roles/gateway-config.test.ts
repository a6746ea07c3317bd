import { describe, expect, test } from "bun:test";
import { loadConfig } from "../../../src/config/loader.ts";

/** The gateway's one request path: the removed alternatives are refused by name; the front's timeouts take units. */
describe("gateway config", () => {
  test("front: bun and upstream_client: fetch are refused with one line naming the key", async () => {
    await expect(loadConfig({ env: {}, overrides: { gateway: { front: "bun" } } })).rejects.toThrow(/^config: gateway\.front must be raw \(the Bun\.serve front was removed/);
    await expect(loadConfig({ env: {}, overrides: { gateway: { upstream_client: "fetch" } } })).rejects.toThrow(/^config: gateway\.upstream_client must be pool/);
    const ok = await loadConfig({ env: {}, overrides: { gateway: { front: "raw", upstream_client: "pool" } } });
    expect(ok.gateway).toBeDefined();
  });

  test("front timeouts: nginx's defaults, durations with units", async () => {
    const { GatewayConfigSchema } = await import("../../../src/config/gateway.ts");
    const v = await import("valibot");
    const d = v.parse(GatewayConfigSchema, {});
    expect([d.client_header_timeout, d.client_body_timeout, d.keepalive_timeout]).toEqual([60_000, 60_000, 75_000]);
    const c = v.parse(GatewayConfigSchema, { client_header_timeout: "5s", client_body_timeout: "1.5m", keepalive_timeout: 500 });
    expect([c.client_header_timeout, c.client_body_timeout, c.keepalive_timeout]).toEqual([5_000, 90_000, 500]);
    await expect(loadConfig({ env: {}, overrides: { gateway: { keepalive_timeout: "forever" } } })).rejects.toThrow(/^config: gateway\.keepalive_timeout must be the keep-alive timeout/);
  });
});
