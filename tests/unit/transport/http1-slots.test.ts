import { describe, expect, test } from "bun:test";
import { Slots } from "../../../src/transport/http1/slots.ts";

type Item = { name: string; slot: number };
const item = (name: string): Item => ({ name, slot: -1 });
const names = (bag: Slots<"slot", Item>) => bag.snapshot().map((x) => x.name).sort();

describe("Slots (in-flight lists without Set churn)", () => {
  test("adds, removes from any place (the last member moves into the gap), and keeps each member's slot right", () => {
    const bag = new Slots<"slot", Item>("slot");
    const [a, b, c, d] = ["a", "b", "c", "d"].map(item) as [Item, Item, Item, Item];
    for (const x of [a, b, c, d]) bag.add(x);
    expect(bag.size).toBe(4);
    bag.delete(b);
    expect(names(bag)).toEqual(["a", "c", "d"]);
    expect(b.slot).toBe(-1);
    // every member's slot points at itself
    for (const [i, x] of bag.snapshot().entries()) expect(x.slot).toBe(i);
    bag.delete(d); // the last one
    bag.delete(a); // the first one
    expect(names(bag)).toEqual(["c"]);
    expect(c.slot).toBe(0);
    bag.delete(c);
    expect(bag.size).toBe(0);
  });

  test("adding a member twice or removing one that is not in it changes nothing", () => {
    const bag = new Slots<"slot", Item>("slot");
    const a = item("a");
    const b = item("b");
    bag.add(a);
    bag.add(a);
    expect(bag.size).toBe(1);
    bag.delete(b);
    expect(names(bag)).toEqual(["a"]);
    // a member of another bag (its slot number set there) is not taken for one of this bag's
    const other = new Slots<"slot", Item>("slot");
    const x = item("x");
    other.add(x);
    bag.delete(x);
    expect(names(bag)).toEqual(["a"]);
    expect(names(other)).toEqual(["x"]);
  });

  test("a snapshot can be gone through while members leave (as timeouts and aborts do)", () => {
    const bag = new Slots<"slot", Item>("slot");
    const all = ["a", "b", "c", "d", "e"].map(item);
    for (const x of all) bag.add(x);
    const seen: string[] = [];
    for (const x of bag.snapshot()) {
      seen.push(x.name);
      bag.delete(x);
      if (x.name === "b") bag.delete(all[4]!); // another one leaves meanwhile
    }
    expect(seen).toEqual(["a", "b", "c", "d", "e"]);
    expect(bag.size).toBe(0);
  });
});
