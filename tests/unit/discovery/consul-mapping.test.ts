import { describe, expect, test } from "bun:test";
import { MalformedAnswerError, sameInstances, toInstances } from "../../../src/discovery/consul-mapping.ts";
import { entry } from "./scripted-consul.ts";

describe("health answer → instances", () => {
  test("maps ID, address, port, gRPC port from Meta, weight from Weights.Passing, tags and meta", () => {
    const [i] = toInstances("task-service", [entry("task-service-a-8082", 8082, { grpc: 50051, weight: 40, tags: ["v1", "production"] })]);
    expect(i).toEqual({
      id: "task-service-a-8082",
      service: "task-service",
      address: "127.0.0.1",
      port: 8082,
      grpcPort: 50051,
      weight: 40,
      tags: ["v1", "production"],
      meta: { grpc_port: "50051", role: "task-service" },
    });
  });

  test("Meta.version is the instance's version (routes split traffic by it); none when absent or empty", () => {
    const withVersion = (version: string) => {
      const e = entry("u-1", 9001) as { Service: { Meta: Record<string, string> } };
      e.Service.Meta.version = version;
      return e;
    };
    expect(toInstances("user-service", [withVersion("2")])[0]!.version).toBe("2");
    expect(toInstances("user-service", [withVersion("")])[0]!.version).toBeUndefined();
    expect(toInstances("user-service", [entry("u-1", 9001)])[0]!.version).toBeUndefined();
  });

  test("an empty Service.Address means the node's address; no Weights means weight 100", () => {
    const [i] = toInstances("task-service", [entry("a", 1, { address: "", nodeAddress: "10.1.2.3" })]);
    expect(i!.address).toBe("10.1.2.3");
    expect(i!.weight).toBe(100);
    expect(i!.grpcPort).toBeUndefined();
  });

  test("instances come sorted by id, so equal sets compare equal whatever Consul's order", () => {
    const a = toInstances("s", [entry("b", 2), entry("a", 1)]);
    const b = toInstances("s", [entry("a", 1), entry("b", 2)]);
    expect(a.map((i) => i.id)).toEqual(["a", "b"]);
    expect(sameInstances(a, b)).toBe(true);
    expect(sameInstances(a, toInstances("s", [entry("a", 1), entry("b", 3)]))).toBe(false);
    expect(sameInstances(a, toInstances("s", [entry("a", 1), entry("b", 2, { weight: 5 })]))).toBe(false);
  });

  test("entries nobody can reach (no address, no port) are left out", () => {
    const list = toInstances("s", [entry("a", 0), entry("b", 1, { address: "", nodeAddress: "" }), entry("c", 3)]);
    expect(list.map((i) => i.id)).toEqual(["c"]);
  });

  test("an empty list is a real answer: no instances", () => {
    expect(toInstances("s", [])).toEqual([]);
  });

  test("anything that is not a list of {Node, Service} is refused as a whole", () => {
    for (const bad of [null, {}, "[]", 42, [null], [{ Node: {} }], [{ Service: { Port: 1 } }], [entry("a", 1), { Service: "x" }]]) {
      expect(() => toInstances("s", bad)).toThrow(MalformedAnswerError);
    }
  });
});
