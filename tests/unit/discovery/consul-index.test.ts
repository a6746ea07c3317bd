import { describe, expect, test } from "bun:test";
import { nextWaitIndex, parseConsulIndex } from "../../../src/discovery/consul-index.ts";

describe("blocking query index", () => {
  test("the next query waits on the index Consul returned", () => {
    expect(nextWaitIndex(undefined, 15n)).toEqual({ next: 15n, reset: false });
    expect(nextWaitIndex(15n, 42n)).toEqual({ next: 42n, reset: false });
    expect(nextWaitIndex(42n, 42n)).toEqual({ next: 42n, reset: false });
  });

  test("an index that goes backwards resets the loop to the lower index instead of waiting past the old one", () => {
    expect(nextWaitIndex(1_000n, 7n)).toEqual({ next: 7n, reset: true });
  });

  test("an index of 0 is raised to 1 so the next call blocks instead of spinning", () => {
    expect(nextWaitIndex(undefined, 0n).next).toBe(1n);
    expect(nextWaitIndex(5n, 0n)).toEqual({ next: 1n, reset: true });
  });

  test("X-Consul-Index is read as a 64-bit integer; anything else is unreadable", () => {
    expect(parseConsulIndex("18446744073709551615")).toBe(18446744073709551615n);
    expect(parseConsulIndex(["12"])).toBe(12n);
    for (const bad of [undefined, null, "", "-1", "1e3", "abc", "12abc"]) expect(parseConsulIndex(bad)).toBeUndefined();
  });
});
