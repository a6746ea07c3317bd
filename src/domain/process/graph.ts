import type { Step } from "./definition-schema.ts";

/** The built-in end state every definition has; a step without default_next goes there. */
export const END = "end";

/** Where each step can go: its rule targets, then its default (the built-in `end` when unset). */
export function edgesOf(steps: readonly Step[]): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const step of steps) {
    const targets = [...step.transitions.map((r) => r.target), step.default_next ?? END];
    edges.set(step.id, [...new Set(targets)]);
  }
  return edges;
}

/** Steps no path from `first` reaches. Conditions are not evaluated: every rule may fire. */
export function findUnreachableSteps(first: string, edges: Map<string, string[]>): Set<string> {
  const seen = new Set<string>([first]);
  const queue = [first];
  while (queue.length > 0) {
    for (const next of edges.get(queue.shift()!) ?? []) {
      if (edges.has(next) && !seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return new Set([...edges.keys()].filter((id) => !seen.has(id)));
}

/**
 * Steps from which no path reaches an end state, each with the cycle it is caught in
 * (e.g. ["review", "rework", "review"]). A loop with an exit is fine; only a trap is reported.
 */
export function findStuckSteps(edges: Map<string, string[]>, ends: ReadonlySet<string>): { id: string; cycle: string[] }[] {
  const canEnd = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const [id, targets] of edges) {
      if (!canEnd.has(id) && targets.some((t) => ends.has(t) || canEnd.has(t))) {
        canEnd.add(id);
        grew = true;
      }
    }
  }
  const stuck: { id: string; cycle: string[] }[] = [];
  for (const id of edges.keys()) {
    if (canEnd.has(id)) continue;
    // every edge of a stuck step leads to another stuck step, so walking any edge must close a cycle
    const path: string[] = [];
    let at = id;
    while (!path.includes(at)) {
      path.push(at);
      at = edges.get(at)![0]!;
    }
    stuck.push({ id, cycle: [...path.slice(path.indexOf(at)), at] });
  }
  return stuck;
}
