/**
 * Objects in flight that code adds and removes once per request: an array with swap-removal,
 * each member keeping its own slot number under `key`.
 *
 * Not a Set or Map: JSC keeps a deleted entry's reference in a Set or Map until the table
 * next rehashes, so one that takes and drops an object per request holds thousands of
 * finished requests (and all they point to) through every young-generation collection,
 * which then marks and promotes them (docs/http-transport.md "Garbage").
 */
export class Slots<K extends string, T extends { [P in K]: number }> {
  private readonly items: T[] = [];

  constructor(private readonly key: K) {}

  get size(): number {
    return this.items.length;
  }

  add(x: T): void {
    if (x[this.key] >= 0) return;
    (x as { [P in K]: number })[this.key] = this.items.length;
    this.items.push(x);
  }

  delete(x: T): void {
    const key = this.key;
    const i = x[key];
    const items = this.items;
    if (i < 0 || items[i] !== x) return;
    const last = items.pop()!;
    if (last !== x) {
      items[i] = last;
      (last as { [P in K]: number })[key] = i;
    }
    (x as { [P in K]: number })[key] = -1;
  }

  /** The members now, as a new array (safe to change the bag while going through it). */
  snapshot(): T[] {
    return this.items.slice();
  }
}
