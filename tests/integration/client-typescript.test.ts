import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { createBpmClient } from "../../clients/typescript/src/index.ts";
import { quickstart } from "../../clients/typescript/examples/quickstart.ts";
import { PUBLIC_API } from "../../src/roles/catalog.ts";
import { gatewayOpenApiDocument } from "../../src/roles/gateway/openapi.ts";
import { REPO, startBpm, tempDir, token, type BpmProcess } from "../support/bpm.ts";

const CLIENT = join(REPO, "clients/typescript");

let bpm: BpmProcess;
let admin: string;
beforeAll(async () => {
  bpm = await startBpm();
  admin = await token("1", { admin: true });
});
afterAll(() => bpm?.stop());

describe("clients/typescript is generated from the document the gateway serves", () => {
  test("its openapi.json is the gateway's (regenerate: bun scripts/openapi.ts > clients/typescript/openapi.json)", async () => {
    const committed = JSON.parse(readFileSync(join(CLIENT, "openapi.json"), "utf8"));
    expect(committed).toEqual(gatewayOpenApiDocument(PUBLIC_API, pkg.version, true));
    const served = (await (await fetch(`${bpm.url()}/openapi.json`)).json()) as any;
    expect(Object.keys(served.paths).sort()).toEqual(Object.keys(committed.paths).sort());
  });

  test("its types are openapi-typescript's output for that document (regenerate: npm run generate there)", () => {
    const out = join(tempDir(), "schema.ts");
    const gen = Bun.spawnSync([join(REPO, "node_modules/.bin/openapi-typescript"), join(CLIENT, "openapi.json"), "-o", out], { stdout: "pipe", stderr: "pipe" });
    expect(gen.exitCode).toBe(0);
    expect(readFileSync(join(CLIENT, "src/schema.ts"), "utf8")).toBe(readFileSync(out, "utf8"));
  });
});

describe("the Node.js gRPC example", () => {
  test("creates, updates and streams tasks, publishes a form, deploys, starts and completes a process", async () => {
    const addr = (role: "task-service" | "process-service" | "form-service") => `127.0.0.1:${bpm.ports[role].grpc}`;
    const proc = Bun.spawn(["node", join(REPO, "clients/grpc-node/example.mjs"), addr("task-service"), addr("process-service"), addr("form-service"), admin], { stdout: "pipe", stderr: "pipe" });
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    expect(`${await proc.exited} ${err}`).toBe("0 ");
    const r = JSON.parse(out.trim());
    expect(r).toMatchObject({ task: { status: "in_progress" }, listed: true, invalid: "INVALID_ARGUMENT", form: "grpc-note", process: "grpc-note-flow", instance: { status: "completed", end_state: "done" } });
  });
});

describe("the typed client against the running platform", () => {
  test("the README's quickstart: a task, a form and its submission, a process started and completed", async () => {
    const r = await quickstart(bpm.url(), admin, 1);
    expect(r.taskId).toBeGreaterThan(0);
    expect(r.submissionId).toBeString();
    expect(r.instanceStatus).toBe("completed");
  });

  test("answers and errors arrive typed: 201 with the task, 400 and 401 in the error shape", async () => {
    const bpm2 = createBpmClient({ baseUrl: bpm.url(), token: () => admin });
    const ok = await bpm2.POST("/api/tasks", { body: { title: "typed", user_id: 1 }, headers: { "Idempotency-Key": `client-${Date.now()}` } });
    expect(ok.response.status).toBe(201);
    expect(ok.data?.priority).toBe("medium");
    const list = await bpm2.GET("/api/tasks", { params: { query: { user_id: 1, limit: 5 } } });
    expect(list.data?.items.length).toBeGreaterThan(0);
    // a body the compiler would refuse, sent anyway: the server's error shape comes back as `error`
    const bad = await bpm2.POST("/api/tasks", { body: { title: "", user_id: 0 } as never });
    expect(bad.response.status).toBe(400);
    expect(bad.error?.code).toBe("VALIDATION_FAILED");
    expect(bad.error?.correlation_id).toBeString();
    const anonymous = await createBpmClient({ baseUrl: bpm.url() }).GET("/api/tasks/{id}", { params: { path: { id: ok.data!.id } } });
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.error?.code).toBe("UNAUTHORIZED");
  });
});
