import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { BPM_BIN, REPO, startBpm, type BpmProcess } from "../support/bpm.ts";

// scripts/demo.sh is what a newcomer runs first: keep it working against a started ./bpm.
let bpm: BpmProcess;
beforeAll(async () => {
  bpm = await startBpm();
});
afterAll(() => bpm?.stop());

async function demo(): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn([join(REPO, "scripts/demo.sh")], {
    env: { ...process.env, BPM_URL: bpm.url("gateway"), BPM_DATA_DIR: bpm.dataDir, BPM_CONFIG: bpm.configPath, BPM_BIN },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, out, err };
}

test("demo.sh runs the leave process through the gateway as two users and prints each step", async () => {
  const r = await demo();
  if (r.code !== 0) console.error(r.out, r.err);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/404: instance \S+ not found/);
  expect(r.out).toContain("403: only the assignee of step \"manager-approval\" may complete it");
  expect(r.out).toMatch(/422: form leave-request-\S+ v1: 2 fields are invalid/);
  expect(r.out).toContain("now at manager-approval for user 22");
  expect(r.out).toContain("instance completed, end state approved");
  expect(r.out.match(/task #\d+ +done/g)).toHaveLength(3);
  expect(r.out).toMatch(/ended +approved/);
}, 60_000);

test("demo.sh can run again against the same data", async () => {
  expect((await demo()).code).toBe(0);
}, 60_000);
