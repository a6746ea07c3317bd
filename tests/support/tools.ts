import { join } from "node:path";
import { REPO } from "./bpm.ts";

const cache = new Map<string, string>();
/** Absolute path of a tool installed by scripts/tools.sh (built once per machine, cached). */
export function toolPath(name: string): string {
  const hit = cache.get(name);
  if (hit) return hit;
  const r = Bun.spawnSync([join(REPO, "scripts/tools.sh"), name], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`scripts/tools.sh ${name} failed:\n${r.stderr.toString()}`);
  const path = r.stdout.toString().trim().split("\n").pop()!;
  cache.set(name, path);
  return path;
}
