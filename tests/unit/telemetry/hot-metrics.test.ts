import { describe, expect, test } from "bun:test";
import * as prom from "prom-client";
import { HotCounter, HotGauge, HotHistogram } from "../../../src/telemetry/hot-metrics.ts";

/** The same observations through prom-client's own metrics and ours must expose the same text. */
describe("hot metrics expose exactly what prom-client's own do", () => {
  test("counter, gauge and histogram: identical /metrics text, removal and reset", async () => {
    const theirs = new prom.Registry();
    const ours = new prom.Registry();
    const buckets = [0.001, 0.01, 0.1, 1];
    const pc = new prom.Counter({ name: "x_requests_total", help: "h", labelNames: ["route", "status"] as const, registers: [theirs] });
    const hc = new HotCounter({ name: "x_requests_total", help: "h", labelNames: ["route", "status"] as const, registers: [ours] });
    const pg = new prom.Gauge({ name: "x_in_flight", help: "g", labelNames: ["instance"] as const, registers: [theirs] });
    const hg = new HotGauge({ name: "x_in_flight", help: "g", labelNames: ["instance"] as const, registers: [ours] });
    const ph = new prom.Histogram({ name: "x_seconds", help: "d \\ with \"quotes\"", labelNames: ["route"] as const, buckets, registers: [theirs] });
    const hh = new HotHistogram({ name: "x_seconds", help: "d \\ with \"quotes\"", labelNames: ["route"] as const, buckets, registers: [ours] });

    const observations = [0, 0.001, 0.0011, 0.01, 0.5, 1, 7, 0.05];
    for (const [i, v] of observations.entries()) {
      const route = i % 2 === 0 ? "/api/tasks/:id" : 'odd "route"\n';
      pc.labels(route, String(200 + i)).inc();
      hc.labels(route, String(200 + i)).inc();
      pc.labels(route, "200").inc(2);
      hc.labels(route, "200").inc(2);
      ph.labels(route).observe(v);
      hh.labels(route).observe(v);
      pg.labels(`i${i % 3}`).inc();
      hg.labels(`i${i % 3}`).inc();
      if (i % 2) {
        pg.labels(`i${i % 3}`).dec();
        hg.labels(`i${i % 3}`).dec();
      }
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());

    pg.remove("i1");
    hg.remove("i1");
    ph.remove('odd "route"\n');
    hh.remove('odd "route"\n');
    expect(await ours.metrics()).toBe(await theirs.metrics());
    // a removed series starts again from zero when it is used again
    pg.labels("i1").inc(5);
    hg.labels("i1").inc(5);
    ph.labels('odd "route"\n').observe(0.2);
    hh.labels('odd "route"\n').observe(0.2);
    expect(await ours.metrics()).toBe(await theirs.metrics());

    theirs.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  test("bad input is refused as prom-client refuses it", () => {
    const r = new prom.Registry();
    const c = new HotCounter({ name: "c_total", help: "h", labelNames: ["a"] as const, registers: [r] });
    const h = new HotHistogram({ name: "h_seconds", help: "h", labelNames: ["a"] as const, buckets: [1], registers: [r] });
    expect(() => c.labels("x").inc(-1)).toThrow();
    expect(() => c.labels()).toThrow();
    expect(() => h.labels("x").observe(Number.NaN)).toThrow();
    expect(() => new HotCounter({ name: "c_total", help: "again", labelNames: [], registers: [r] })).toThrow();
  });
});
