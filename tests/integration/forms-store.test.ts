// One behaviour, two engines: the FormStore guarantees on SQLite and on a real PostgreSQL.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { parseFormDefinition } from "../../src/domain/forms/index.ts";
import { PostgresFormStore } from "../../src/roles/form-service/store-postgres.ts";
import { SqliteFormStore } from "../../src/roles/form-service/store-sqlite.ts";
import type { FormStore } from "../../src/roles/form-service/store.ts";
import { bothEngines } from "./storage/databases.ts";

const backends = bothEngines<FormStore>(
  "forms",
  (dir) => new SqliteFormStore(join(dir, "form-service.db"), { synchronous: "NORMAL", busyTimeoutMs: 5_000 }),
  (url, log) => PostgresFormStore.open(url, log),
);

const NOW = "2026-03-01T10:00:00.000Z";
const form = (key: string, max = 30) => parseFormDefinition({ key, title: "Leave", fields: [{ name: "days", type: "integer", max }, { name: "kind", type: "enum", options: ["a", "b"], default: "a" }] });

for (const [engine, backend] of backends) {
  describe(`FormStore on ${engine}`, () => {
    test("publishing: v1, the same content keeps v1, a change is v2; get latest or exact; list and count", async () => {
      const store = await (await backend())();
      expect(await store.publish(form("leave"), NOW)).toMatchObject({ created: true, form: { key: "leave", version: 1, created_at: NOW } });
      expect(await store.publish(form("leave"), NOW)).toMatchObject({ created: false, form: { version: 1 } });
      expect(await store.publish(form("leave", 20), NOW)).toMatchObject({ created: true, form: { version: 2 } });
      await store.publish(form("other"), NOW);
      expect((await store.get("leave", 0))!.fields[0]).toEqual({ name: "days", label: "days", type: "integer", required: false, max: 20 });
      expect((await store.get("leave", 1))!.fields[0]!.max).toBe(30);
      expect(await store.get("leave", 3)).toBeUndefined();
      expect(await store.get("nope", 0)).toBeUndefined();
      expect((await store.list({ limit: 10, offset: 0 })).map((f) => `${f.key}@${f.version}`)).toEqual(["leave@2", "other@1"]);
      expect((await store.list({ key: "leave", limit: 10, offset: 0 })).map((f) => f.version)).toEqual([2, 1]);
      expect(await store.count({})).toBe(2);
      expect(await store.count({ key: "leave" })).toBe(2);
    });

    test("two replicas publishing different content to one key at once get distinct versions", async () => {
      const openStore = await backend();
      const [a, b] = [await openStore(), await openStore()];
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).publish(form("race", i + 1), NOW)));
      expect(results.map((r) => r.form.version).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    test("a submission keeps its data exactly; the same idempotency key, even from another replica at once, stores one", async () => {
      const openStore = await backend();
      const [a, b] = [await openStore(), await openStore()];
      await a.publish(form("leave"), NOW);
      const input = { form_key: "leave", form_version: 1, data: { days: 3, kind: "a", nested: JSON.parse('{"__proto__": 1, "list": [1, null, "x"]}') }, submitted_by: 7, process_instance_id: "i1", step_id: "s1", idempotency_key: "k1" };
      const results = await Promise.all([a.submit(input, crypto.randomUUID(), NOW), b.submit({ ...input, data: { days: 9 } }, crypto.randomUUID(), NOW)]);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(results[0]!.submission.id).toBe(results[1]!.submission.id);
      const plain = await a.submit({ ...input, idempotency_key: undefined }, "s-2", NOW);
      expect(plain.created).toBe(true);
      const got = await b.getSubmission("s-2");
      expect(got).toEqual({ id: "s-2", form_key: "leave", form_version: 1, data: input.data, submitted_by: 7, process_instance_id: "i1", step_id: "s1", created_at: NOW });
      expect(Object.keys(got!.data.nested as object)).toEqual(["__proto__", "list"]);
    });

    test("what was written is there after a restart", async () => {
      const openStore = await backend();
      const first = await openStore();
      await first.publish(form("kept"), NOW);
      await first.submit({ form_key: "kept", form_version: 1, data: { days: 1 }, submitted_by: 1, process_instance_id: "", step_id: "" }, "kept-1", NOW);
      await first.close();
      const again = await openStore();
      expect((await again.get("kept", 0))!.version).toBe(1);
      expect((await again.getSubmission("kept-1"))!.data).toEqual({ days: 1 });
    });
  });
}
