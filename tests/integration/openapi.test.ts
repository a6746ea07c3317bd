import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { startBpm, tempDir, type BpmProcess } from "../support/bpm.ts";
import { toolPath } from "../support/tools.ts";

let bpm: BpmProcess;
beforeAll(async () => {
  bpm = await startBpm({ roles: ["gateway"] });
});
afterAll(() => bpm?.stop());

test("the gateway's /openapi.json is a valid OpenAPI 3.1 document generated from the validating schemas", async () => {
  const res = await fetch(`${bpm.url()}/openapi.json`);
  expect(res.status).toBe(200);
  const doc = (await res.json()) as any;
  expect(doc.openapi).toBe("3.1.0");
  const create = doc.paths["/api/tasks"].post.requestBody.content["application/json"].schema;
  expect(create.properties.priority.enum).toEqual(["low", "medium", "high", "critical"]);
  expect(create.properties.title.minLength).toBe(1);
  const file = join(tempDir(), "openapi.json");
  await Bun.write(file, JSON.stringify(doc));
  const check = Bun.spawnSync([toolPath("openapi-spec-validator"), file], { stdout: "pipe", stderr: "pipe" });
  expect(check.stdout.toString() + check.stderr.toString()).toContain("OK");
  expect(check.exitCode).toBe(0);
  const docs = await fetch(`${bpm.url()}/docs`);
  expect(docs.headers.get("content-type")).toContain("text/html");
  expect(await docs.text()).toContain("/api/tasks/{id}");
});
