import { describe, expect, test } from "bun:test";
import { LoadBalancer } from "../../../src/balancing/balancer.ts";
import { ServiceBalancers } from "../../../src/balancing/service-balancers.ts";
import { VersionSplit } from "../../../src/balancing/version-split.ts";
import { StaticRegistry } from "../../../src/discovery/static.ts";
import { FakeClock } from "../../../src/platform/clock.ts";
import { ValidationError } from "../../../src/platform/errors.ts";
import { buildRoutes } from "../../../src/roles/gateway/routes.ts";
import { pinnedVersion, versionsFor } from "../../../src/roles/gateway/versions.ts";
import { instance, options, seededRandom } from "./helpers.ts";

const headers = (h: Record<string, string>) => new Headers(h);

describe("version split", () => {
  test("90/10 over 2,000 requests: exactly 1,800 and 200, interleaved (never 200 in a row)", () => {
    const split = new VersionSplit({ "1": 90, "2": 10 });
    const seen: string[] = [];
    for (let i = 0; i < 2000; i++) seen.push(split.next());
    expect(seen.filter((v) => v === "2").length).toBe(200);
    // smooth: every run of 10 holds exactly one v2
    for (let i = 0; i < 2000; i += 10) expect(seen.slice(i, i + 10).filter((v) => v === "2").length).toBe(1);
  });

  test("100/0 sends everything to the live version; a weight 0 version is not live; set() replaces the weights", () => {
    const split = new VersionSplit({ blue: 100, green: 0 });
    expect(split.live).toEqual(["blue"]);
    expect(new Set(Array.from({ length: 50 }, () => split.next()))).toEqual(new Set(["blue"]));
    expect(split.takes("green")).toBe(false);
    split.set({ blue: 0, green: 100 });
    expect(new Set(Array.from({ length: 50 }, () => split.next()))).toEqual(new Set(["green"]));
    expect(split.all).toEqual({ blue: 0, green: 100 });
    expect(() => split.set({ blue: 0 })).toThrow();
  });

  test("order: the chosen version first, then the other live ones by weight", () => {
    const split = new VersionSplit({ "1": 10, "2": 60, "3": 30, "4": 0 });
    expect(split.order("1")).toEqual(["1", "2", "3"]);
  });
});

describe("picking by version", () => {
  const clock = new FakeClock();
  const lb = new LoadBalancer("user-service", options(), { clock, random: seededRandom() });
  lb.setInstances([instance("a1", { version: "1" }), instance("a2", { version: "1" }), instance("b1", { version: "2" })]);

  test("a version filter picks only its instances; a version nobody runs is no_instances", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const l = lb.pick({ version: "2" });
      if (!l.ok) throw new Error(l.reason);
      ids.add(l.instance.id);
      l.release();
    }
    expect(ids).toEqual(new Set(["b1"]));
    const none = lb.pick({ version: "9" });
    expect(none.ok === false && none.reason).toBe("no_instances");
  });

  test("a sticky instance of another version is not kept: the pick moves to the asked version", () => {
    const a1 = lb.pick({ version: "1" });
    if (!a1.ok) throw new Error("no pick");
    a1.release();
    const l = lb.pick({ version: "2", stickyId: a1.stickyId });
    expect(l.ok && l.instance.id).toBe("b1");
    expect(l.ok && l.repinned).toBe(true);
    if (l.ok) l.release();
  });

  test("an unhealthy version is all_unhealthy, not another version's instance", () => {
    lb.setHealthy("b1", false);
    const r = lb.pick({ version: "2" });
    expect(r.ok === false && r.reason).toBe("all_unhealthy");
    lb.setHealthy("b1", true);
  });
});

describe("a request's versions", () => {
  const registry = new StaticRegistry({ "user-service": [instance("a1", { service: "user-service", version: "1" }), instance("b1", { service: "user-service", version: "2" })] });
  const balancers = new ServiceBalancers({ registry, clock: new FakeClock(), random: seededRandom() });
  const [split, plain] = buildRoutes([
    { prefix: "/api/users", service: "user-service", strip_prefix: true, versions: { "1": 90, "2": 10 } },
    { prefix: "/api/other", service: "user-service", strip_prefix: false },
  ]);

  test("the x-bpm-version header pins, and wins over the bpm_version cookie", () => {
    expect(versionsFor(split!, headers({ "x-bpm-version": "2" }), undefined, balancers)).toEqual(["2"]);
    expect(versionsFor(split!, headers({ cookie: "a=b; bpm_version=2" }), undefined, balancers)).toEqual(["2"]);
    expect(versionsFor(split!, headers({ "x-bpm-version": "1", cookie: "bpm_version=2" }), undefined, balancers)).toEqual(["1"]);
    // a pin applies on a route without a split too
    expect(versionsFor(plain!, headers({ "x-bpm-version": "2" }), undefined, balancers)).toEqual(["2"]);
    expect(versionsFor(plain!, headers({}), undefined, balancers)).toBeUndefined();
  });

  test("a malformed pin is a 400, not a guess", () => {
    expect(() => pinnedVersion(headers({ "x-bpm-version": "1 or 2" }))).toThrow(ValidationError);
    expect(pinnedVersion(headers({ "x-bpm-version": "" }))).toBeUndefined();
  });

  test("a sticky client stays on its version while that version takes traffic", () => {
    const lb = balancers.get("user-service");
    const b1 = lb.pick({ version: "2" });
    if (!b1.ok) throw new Error("no pick");
    b1.release();
    for (let i = 0; i < 20; i++) expect(versionsFor(split!, headers({}), b1.stickyId, balancers)![0]).toBe("2");
    split!.split!.set({ "1": 100, "2": 0 });
    for (let i = 0; i < 20; i++) expect(versionsFor(split!, headers({}), b1.stickyId, balancers)).toEqual(["1"]);
  });
});
