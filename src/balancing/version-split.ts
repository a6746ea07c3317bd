/**
 * A route's traffic split by instance version (canary 90/10, blue-green 100/0): smooth
 * weighted round robin over the versions (nginx's algorithm), so a share is exact over any
 * run of requests, not only on average. A version with weight 0 gets no split traffic (a
 * client pin still reaches it). Weights can be replaced at runtime; the running state restarts.
 */
export class VersionSplit {
  private versions: string[] = [];
  private weights: number[] = [];
  private current: number[] = [];
  private total = 0;

  constructor(weights: Readonly<Record<string, number>>) {
    this.set(weights);
  }

  /** Replaces the weights (at least one must be above 0). */
  set(weights: Readonly<Record<string, number>>): void {
    const entries = Object.entries(weights).filter(([, w]) => w > 0);
    if (entries.length === 0) throw new Error("a version split needs a version with weight above 0");
    this.versions = entries.map(([v]) => v);
    this.weights = entries.map(([, w]) => w);
    this.current = entries.map(() => 0);
    this.total = this.weights.reduce((a, b) => a + b, 0);
    this.all = { ...weights };
  }

  /** The weights as last set, zeros included. */
  all: Record<string, number> = {};

  /** The versions that take split traffic (weight above 0). */
  get live(): readonly string[] {
    return this.versions;
  }

  /** Whether `version` takes split traffic. */
  takes(version: string | undefined): boolean {
    return version !== undefined && this.versions.includes(version);
  }

  /** The next request's version. */
  next(): string {
    const cur = this.current;
    let best = 0;
    for (let i = 0; i < cur.length; i++) {
      cur[i]! += this.weights[i]!;
      if (cur[i]! > cur[best]!) best = i;
    }
    cur[best]! -= this.total;
    return this.versions[best]!;
  }

  /** `first`, then the other live versions by weight (where to go when `first` has no usable instance). */
  order(first: string): string[] {
    const rest = this.versions.map((v, i) => [v, this.weights[i]!] as const).filter(([v]) => v !== first).sort((a, b) => b[1] - a[1]).map(([v]) => v);
    return [first, ...rest];
  }
}
