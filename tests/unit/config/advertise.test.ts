import { describe, expect, test } from "bun:test";
import { resolveAdvertiseAddress } from "../../../src/config/advertise.ts";
import { loadConfig } from "../../../src/config/loader.ts";

const iface = (address: string, internal: boolean, family: "IPv4" | "IPv6" = "IPv4") =>
  ({ address, internal, family, netmask: "255.0.0.0", mac: "00:00:00:00:00:00", cidr: `${address}/8` }) as never;

describe("advertise_address: auto", () => {
  test("a listener on one address advertises that address (the host network's 127.0.0.1)", () => {
    expect(resolveAdvertiseAddress("auto", "127.0.0.1", { eth0: [iface("10.1.2.3", false)] })).toBe("127.0.0.1");
  });

  test("a wildcard listener advertises the first non-internal IPv4 address (a pod's or container's own)", () => {
    const ifs = { lo: [iface("127.0.0.1", true)], eth0: [iface("fe80::1", false, "IPv6"), iface("10.88.0.7", false)] };
    expect(resolveAdvertiseAddress("auto", "0.0.0.0", ifs)).toBe("10.88.0.7");
    expect(resolveAdvertiseAddress("auto", "::", ifs)).toBe("10.88.0.7");
  });

  test("with only loopback it falls back to 127.0.0.1; any other value is kept", () => {
    expect(resolveAdvertiseAddress("auto", "0.0.0.0", { lo: [iface("127.0.0.1", true)] })).toBe("127.0.0.1");
    expect(resolveAdvertiseAddress("task-service-1", "0.0.0.0", { eth0: [iface("10.1.2.3", false)] })).toBe("task-service-1");
  });

  test("BPM_ADVERTISE_ADDRESS=auto reaches the loaded config resolved, never as the word auto", async () => {
    const config = await loadConfig({ env: { BPM_ADVERTISE_ADDRESS: "auto", BPM_HOST: "127.0.0.1" } });
    expect(config.advertise_address).toBe("127.0.0.1");
    const wild = await loadConfig({ env: { BPM_ADVERTISE_ADDRESS: "auto" } });
    expect(wild.advertise_address).not.toBe("auto");
  });
});
