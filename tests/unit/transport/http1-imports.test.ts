import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The HTTP/1.1 code is a small library of its own: it knows nothing of the application around it. */
test("src/transport/http1 imports nothing from platform, telemetry, resilience or grpc-js", () => {
  const dir = join(import.meta.dir, "../../../src/transport/http1");
  const offending: string[] = [];
  for (const f of readdirSync(dir)) {
    const text = readFileSync(join(dir, f), "utf8");
    for (const m of text.matchAll(/^import[^"']*["']([^"']+)["']/gm)) {
      const from = m[1]!;
      if (/\/(platform|telemetry|resilience)\//.test(from) || from.startsWith("@grpc/")) offending.push(`${f}: ${from}`);
    }
  }
  expect(offending).toEqual([]);
});
