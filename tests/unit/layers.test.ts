import { describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const REPO = join(import.meta.dir, "../..");
const CRUISER = join(REPO, "node_modules/dependency-cruiser/bin/dependency-cruiser.mjs");
const CONFIG = join(REPO, ".dependency-cruiser.cjs");

/** Runs dependency-cruiser with the repo's rules in `cwd`; returns its exit code and report. */
function cruise(cwd: string, ...args: string[]): { code: number; out: string } {
  const r = Bun.spawnSync([process.execPath, CRUISER, "--config", CONFIG, "--output-type", "err", ...args, "src"], { cwd, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

describe("layers (docs/architecture.md)", () => {
  test("src/ adds no violation to the known list", () => {
    const { code, out } = cruise(REPO, "--ignore-known", join(REPO, ".dependency-cruiser-known-violations.json"));
    if (code !== 0) console.error(out);
    expect(code).toBe(0);
  });

  test("the rules catch a domain importing the platform, a shared part importing a role, and a cycle", () => {
    const dir = mkdtempSync(join(tmpdir(), "bpm-layers-"));
    try {
      const put = (path: string, text: string) => {
        mkdirSync(join(dir, path, ".."), { recursive: true });
        writeFileSync(join(dir, path), text);
      };
      put("tsconfig.json", JSON.stringify({ compilerOptions: { module: "ESNext", moduleResolution: "bundler", allowImportingTsExtensions: true, noEmit: true } }));
      put("src/platform/errors.ts", 'export class E extends Error {}\n');
      put("src/domain/tasks/model.ts", 'import { E } from "../../platform/errors.ts";\nexport const x = new E();\n');
      put("src/roles/gateway/config.ts", "export const cfg = 1;\n");
      put("src/config/schema.ts", 'import { cfg } from "../roles/gateway/config.ts";\nexport const s = cfg;\n');
      put("src/balancing/a.ts", 'import { b } from "./b.ts";\nexport const a = () => b;\n');
      put("src/balancing/b.ts", 'import { a } from "./a.ts";\nexport const b = () => a;\n');
      const { code, out } = cruise(dir);
      expect(code).not.toBe(0);
      expect(out).toContain("domain-is-pure: src/domain/tasks/model.ts → src/platform/errors.ts");
      expect(out).toContain("shared-never-imports-a-role: src/config/schema.ts → src/roles/gateway/config.ts");
      expect(out).toContain("no-circular");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
