import type * as prom from "prom-client";

/**
 * Counters, gauges and histograms for the per-request hot path, exposed through
 * a prom-client Registry (which still formats /metrics).
 *
 * Why not prom-client's own: its child objects re-hash their label values into
 * a string on every inc()/observe() (and a histogram looks its bucket up by a
 * float-keyed property), about a microsecond per call; a proxied request makes
 * four or five such calls. Here a child binds its series once and a call is a
 * few array and number operations. The exposition is prom-client's: these
 * objects implement the metric interface its Registry reads (`name`, `help`,
 * `type`, `get()`), as a custom collector does.
 */

type LabelValues = Record<string, string>;

/** What `get()` returns: the shape prom-client's Registry formats (and its own metrics return). */
export interface HotSnapshot {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  aggregator: "sum";
  values: { metricName?: string; labels: Record<string, string | number>; value: number }[];
}

interface HotOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: prom.Registry[];
}

abstract class HotMetric<L extends string, C> {
  readonly name: string;
  readonly help: string;
  abstract readonly type: "counter" | "gauge" | "histogram";
  readonly aggregator = "sum" as const;
  protected readonly labelNames: readonly L[];
  /** Every series, for the exposition; found by label values through `tree`. */
  protected readonly children = new Set<C>();

  constructor(opts: HotOptions<L>) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames;
    for (const r of opts.registers) r.registerMetric(this as unknown as prom.Metric);
  }

  /** The series by one label value per level, so a lookup hashes the values it is given and makes no key string. */
  private readonly tree = new Map<string, unknown>();

  /** The series for these label values (in labelNames order), made on first use and kept. */
  labels(...values: string[]): C {
    const n = values.length;
    if (n !== this.labelNames.length) throw new Error(`${this.name}: ${this.labelNames.length} label values needed, got ${n}`);
    let node = this.tree;
    for (let i = 0; i < n - 1; i++) {
      let next = node.get(values[i]!) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(values[i]!, next);
      }
      node = next;
    }
    const leaf = n === 0 ? "" : values[n - 1]!;
    let child = node.get(leaf) as C | undefined;
    if (child === undefined) {
      const labels: LabelValues = {};
      this.labelNames.forEach((name, i) => (labels[name] = String(values[i])));
      child = this.create(labels);
      this.children.add(child);
      node.set(leaf, child);
    }
    return child;
  }

  /** Drops one series (an instance discovery no longer lists). */
  remove(...values: string[]): void {
    let node: Map<string, unknown> | undefined = this.tree;
    for (let i = 0; i < values.length - 1 && node !== undefined; i++) node = node.get(values[i]!) as Map<string, unknown> | undefined;
    const leaf = values.length === 0 ? "" : values[values.length - 1]!;
    const child = node?.get(leaf) as C | undefined;
    if (child === undefined) return;
    node!.delete(leaf);
    this.children.delete(child);
  }

  reset(): void {
    this.children.clear();
    this.tree.clear();
  }

  protected abstract create(labels: LabelValues): C;
}

/** A series that is one number (counter, gauge). */
interface ValueChild {
  readonly labels: LabelValues;
  value: number;
}

abstract class ValueMetric<L extends string, C extends ValueChild> extends HotMetric<L, C> {
  async get(): Promise<HotSnapshot> {
    const values = [...this.children].map((c) => ({ labels: c.labels, value: c.value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export class HotCounterChild implements ValueChild {
  value = 0;
  constructor(readonly labels: LabelValues) {}
  inc(n = 1): void {
    if (!(n >= 0)) throw new Error(`counters only go up: inc(${n})`);
    this.value += n;
  }
}

export class HotCounter<L extends string> extends ValueMetric<L, HotCounterChild> {
  readonly type = "counter" as const;
  protected create(labels: LabelValues): HotCounterChild {
    return new HotCounterChild(labels);
  }
}

export class HotGaugeChild implements ValueChild {
  value = 0;
  constructor(readonly labels: LabelValues) {}
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
  set(v: number): void {
    this.value = v;
  }
}

export class HotGauge<L extends string> extends ValueMetric<L, HotGaugeChild> {
  readonly type = "gauge" as const;
  protected create(labels: LabelValues): HotGaugeChild {
    return new HotGaugeChild(labels);
  }
}

export class HotHistogramChild {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly labels: LabelValues, private readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    if (!Number.isFinite(v)) throw new TypeError(`Value is not a valid number: ${v}`);
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

export class HotHistogram<L extends string> extends HotMetric<L, HotHistogramChild> {
  readonly type = "histogram" as const;
  private readonly bounds: Float64Array;
  constructor(opts: HotOptions<L> & { buckets: readonly number[] }) {
    super(opts);
    const sorted = [...opts.buckets].sort((a, b) => a - b);
    if (sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) throw new Error(`${opts.name}: buckets must be finite and distinct`);
    this.bounds = Float64Array.from(sorted);
  }
  protected create(labels: LabelValues): HotHistogramChild {
    return new HotHistogramChild(labels, this.bounds);
  }
  /** The same series prom-client's Histogram exposes: cumulative `_bucket{le}` (with +Inf), `_sum`, `_count`. */
  async get(): Promise<HotSnapshot> {
    const values: HotSnapshot["values"] = [];
    for (const c of this.children) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += c.counts[i]!;
        const le = i < this.bounds.length ? this.bounds[i]! : "+Inf";
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...c.labels }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels: c.labels, value: c.sum });
      values.push({ metricName: `${this.name}_count`, labels: c.labels, value: c.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
