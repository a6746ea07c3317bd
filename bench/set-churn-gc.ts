/**
 * Why hot-path code keeps per-request objects out of Sets and Maps (docs/http-transport.md
 * "Garbage"): a loop makes one small object per turn and keeps it (a) nowhere, (b) in a Set it
 * adds it to and deletes it from, (c) in a Map likewise, (d) in an array it pushes and pops. Each
 * runs in its own process with JSC's GC log on; printed: the median bytes an eden (young)
 * collection marked, and the GC pauses. A JSC Set or Map holds a deleted entry's reference until
 * it rehashes, so (b) and (c) mark far more than (a) and (d).
 *
 *   bun bench/set-churn-gc.ts [turns=3000000]
 */
const turns = Number(process.argv[2] ?? 3_000_000);
const kind = process.env.SET_CHURN_KIND;

if (kind !== undefined) {
  const set = new Set<object>();
  const map = new Map<object, number>();
  const arr: object[] = [];
  let sink = 0;
  for (let i = 0; i < turns; i++) {
    const o = { i, items: new Array(20).fill(i), text: `x${i}` };
    if (kind === "set") {
      set.add(o);
      set.delete(o);
    } else if (kind === "map") {
      map.set(o, i);
      map.delete(o);
    } else if (kind === "array") {
      arr.push(o);
      arr.pop();
    }
    sink += o.items.length;
  }
  if (sink < 0) console.log(sink);
  process.exit(0);
}

for (const k of ["none", "set", "map", "array"]) {
  const p = Bun.spawn([process.execPath, import.meta.path, String(turns)], { env: { ...process.env, SET_CHURN_KIND: k, BUN_JSC_logGC: "1" }, stderr: "pipe", stdout: "inherit" });
  const log = await new Response(p.stderr).text();
  await p.exited;
  const cycles = log.split("START ").slice(1);
  const eden = cycles
    .filter((c) => c.slice(0, 200).includes("EdenCollection") && c.includes("END]"))
    .map((c) => Number([...c.matchAll(/v=(\d+)kb/g)].at(-1)?.[1] ?? 0))
    .sort((a, b) => a - b);
  const paused = [...log.matchAll(/ p=([\d.]+)ms/g)].reduce((a, m) => a + Number(m[1]), 0);
  console.log(`${k.padEnd(6)} ${String(cycles.length).padStart(4)} collections, eden marked (median) ${String(eden[eden.length >> 1] ?? "-").padStart(6)} kB, pauses ${paused.toFixed(1)} ms`);
}
