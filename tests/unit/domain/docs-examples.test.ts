import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formValidationError, parseFormDefinition, validateSubmission, type StoredFormDefinition } from "../../../src/domain/forms/index.ts";
import { completeStep, findStep, parseProcessDefinition, startInstance, type ProcessInstance } from "../../../src/domain/process/index.ts";
import { leaveApprovalForm, leaveProcess, leaveRecordForm, leaveRequestForm } from "./leave-example.ts";

// `<!-- example: kind name -->` followed by a ```json block in docs/bpm-model.md
const doc = readFileSync(join(import.meta.dir, "../../../docs/bpm-model.md"), "utf8");
const examples = new Map<string, unknown>();
for (const m of doc.matchAll(/<!-- example: (\w+ [\w-]+) -->\n```json\n([\s\S]*?)\n```/g)) examples.set(m[1]!, JSON.parse(m[2]!));

describe("docs/bpm-model.md examples", () => {
  test("show exactly the leave-request example the tests use", () => {
    expect([...examples.keys()].sort()).toEqual(["form leave-approval", "form leave-record", "form leave-request", "process leave"]);
    expect(examples.get("form leave-request")).toEqual(leaveRequestForm);
    expect(examples.get("form leave-approval")).toEqual(leaveApprovalForm);
    expect(examples.get("form leave-record")).toEqual(leaveRecordForm);
    expect(examples.get("process leave")).toEqual(leaveProcess);
  });

  test("run end to end: forms published, process deployed, one leave approved with every submission checked", async () => {
    const forms = new Map<string, StoredFormDefinition>();
    for (const name of ["form leave-request", "form leave-approval", "form leave-record"]) {
      const def = parseFormDefinition(examples.get(name));
      forms.set(def.key, { ...def, version: 1, created_at: "2025-01-01T00:00:00.000Z" });
    }
    const process = { ...(await parseProcessDefinition(examples.get("process leave"), (key) => forms.has(key))), version: 1, created_at: "" };

    const submit = (instance: ProcessInstance, userId: number, data: unknown) => {
      const step = findStep(process, instance.current_step!)!;
      const form = forms.get(step.form_key)!;
      const checked = validateSubmission(form, data);
      if (!checked.ok) throw formValidationError(form, checked.details);
      return completeStep(process, instance, { stepId: step.id, userId, data: checked.value, now: 0 }).instance;
    };

    let instance = startInstance(process, { id: "demo", variables: { employee_id: 11, manager_id: 22, hr_id: 33 }, startedBy: 11, now: 0 }).instance;
    expect(() => submit(instance, 11, { start_date: "2025-07-01", days: 45 })).toThrow("form leave-request v1: 1 field is invalid");
    instance = submit(instance, 11, { start_date: "2025-07-01", days: 5 });
    expect(instance.variables.kind).toBe("annual");
    instance = submit(instance, 22, { approved: true });
    expect(() => submit(instance, 33, { hr_reference: "2025" })).toThrow("form leave-record v1: 1 field is invalid");
    instance = submit(instance, 33, { hr_reference: "HR-2025" });
    expect(instance).toMatchObject({ status: "completed", end_state: "approved" });
  });
});
