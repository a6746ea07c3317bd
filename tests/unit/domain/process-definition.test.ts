import { describe, expect, test } from "bun:test";
import type { DefinitionProblem } from "../../../src/domain/forms/index.ts";
import { isSameProcessDefinition, parseProcessDefinition, type FormExists } from "../../../src/domain/process/index.ts";
import { UnavailableError, ValidationError } from "../../../src/platform/errors.ts";
import { leaveProcess } from "./leave-example.ts";

const forms = new Map([["leave-request", 1], ["leave-approval", 2], ["leave-record", 1], ["f", 1]]);
const formExists: FormExists = (key, version) => forms.has(key) && (version === undefined || version <= forms.get(key)!);

async function problemsOf(input: unknown, exists: FormExists = formExists): Promise<DefinitionProblem[]> {
  try {
    await parseProcessDefinition(input, exists);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).details as DefinitionProblem[];
  }
  throw new Error("definition was accepted");
}

const step = (id: string, more: Record<string, unknown> = {}) => ({ id, form_key: "f", assignee: "1", ...more });
const proc = (...steps: unknown[]) => ({ key: "p", steps });

describe("parseProcessDefinition", () => {
  test("accepts the leave-request process and normalizes it", async () => {
    const def = await parseProcessDefinition(leaveProcess, formExists);
    expect(def.steps.map((s) => s.id)).toEqual(["request", "manager-approval", "hr-record"]);
    expect(def.steps[0]).toEqual({
      id: "request", name: "Request leave", form_key: "leave-request", assignee: "${employee_id}",
      transitions: [], default_next: "manager-approval", priority: "medium",
    });
    expect(def.end_states.map((e) => e.id)).toEqual(["approved", "rejected"]);
  });

  test("asks about each form once, even when async", async () => {
    const asked: string[] = [];
    await parseProcessDefinition(leaveProcess, async (key) => (asked.push(key), true));
    expect(asked.sort()).toEqual(["leave-approval", "leave-record", "leave-request"]);
  });

  test("a step using a missing form is refused, naming the step", async () => {
    expect(await problemsOf(proc(step("a", { default_next: "b" }), step("b", { form_key: "nope" })))).toEqual([
      { path: "steps[1].form_key", step: "b", message: 'form "nope" does not exist' },
    ]);
  });

  test("a pinned form version that does not exist is refused", async () => {
    expect(await problemsOf(proc(step("a", { form_key: "leave-approval", form_version: 3 })))).toEqual([
      { path: "steps[0].form_key", step: "a", message: 'form "leave-approval" has no version 3' },
    ]);
  });

  test("a form-service outage while checking is not a validation error", async () => {
    const down: FormExists = () => Promise.reject(new UnavailableError("form-service unavailable"));
    await expect(parseProcessDefinition(leaveProcess, down)).rejects.toBeInstanceOf(UnavailableError);
  });

  test("a rule or default pointing at a missing step is refused, naming the step and rule", async () => {
    expect(await problemsOf(proc(step("a", { transitions: [{ condition: "x == 1", target: "b" }, { condition: "y", target: "ghost" }], default_next: "b" }), step("b", { default_next: "gone" })))).toEqual([
      { path: "steps[0].transitions[1].target", step: "a", message: 'unknown target "ghost" (no step or end state has that id)' },
      { path: "steps[1].default_next", step: "b", message: 'unknown target "gone" (no step or end state has that id)' },
    ]);
  });

  test("a rule condition that does not parse is refused, naming the step and rule", async () => {
    const [p] = await problemsOf(proc(step("a", { transitions: [{ condition: "approved = false", target: "end" }] })));
    expect(p).toEqual({ path: "steps[0].transitions[0].condition", step: "a", message: "invalid condition: use == to compare at column 10" });
  });

  test("duplicate step ids, and steps named like end states, are refused", async () => {
    expect(await problemsOf(proc(step("a", { default_next: "b" }), step("b"), step("a")))).toEqual([
      { path: "steps[2].id", step: "a", message: 'duplicate step id "a" (also steps[0])' },
    ]);
    expect((await problemsOf(proc(step("end"))))[0]!.message).toContain("is an end state id");
    expect((await problemsOf({ key: "p", steps: [step("a", { default_next: "done" }), step("done")], end_states: [{ id: "done" }] }))[0]).toMatchObject({ path: "steps[1].id", step: "done" });
  });

  test("at least one step", async () => {
    expect(await problemsOf({ key: "p", steps: [] })).toEqual([{ path: "steps", message: "must have at least one step" }]);
  });

  test("a cycle with no path to an end is refused", async () => {
    const problems = await problemsOf(proc(
      step("a", { default_next: "b" }),
      step("b", { transitions: [{ condition: "ok", target: "c" }], default_next: "c" }),
      step("c", { default_next: "b" }),
    ));
    expect(problems).toEqual([
      { path: "steps[0]", step: "a", message: 'step "a" only leads into a cycle with no path to an end: b → c → b' },
      { path: "steps[1]", step: "b", message: "cycle with no path to an end: b → c → b" },
      { path: "steps[2]", step: "c", message: "cycle with no path to an end: c → b → c" },
    ]);
  });

  test("a loop with an exit is accepted (rework until approved)", async () => {
    const def = await parseProcessDefinition(proc(
      step("draft", { default_next: "review" }),
      step("review", { transitions: [{ condition: "approved == true", target: "end" }], default_next: "draft" }),
    ), formExists);
    expect(def.steps).toHaveLength(2);
  });

  test("a step nobody can reach is refused", async () => {
    expect(await problemsOf(proc(step("a"), step("orphan")))).toEqual([
      { path: "steps[1]", step: "orphan", message: 'step "orphan" cannot be reached from the first step "a"' },
    ]);
  });

  test("assignees are a user id or ${variable}; numbers are accepted from REST", async () => {
    const def = await parseProcessDefinition(proc(step("a", { assignee: 7, default_next: "b" }), step("b", { assignee: "${org.manager_id}" })), formExists);
    expect(def.steps.map((s) => s.assignee)).toEqual(["7", "${org.manager_id}"]);
    for (const bad of ["0", "-3", "bob", "${}", "${manager id}", "$manager_id", "99999999999"]) {
      expect(await problemsOf(proc(step("a", { assignee: bad })))).toEqual([
        { path: "steps[0].assignee", step: "a", message: "must be a user id (1 to 2147483647) or a variable like ${manager_id}" },
      ]);
    }
  });

  test("unset settings as a proto3 client sends them mean 'not set'", async () => {
    const def = await parseProcessDefinition({
      key: "p", name: "", end_states: [],
      steps: [{ id: "a", name: "", form_key: "f", form_version: 0, assignee: "1", transitions: [], default_next: "", priority: "" }],
    }, formExists);
    expect(def).toEqual({ key: "p", name: "p", end_states: [], steps: [{ id: "a", name: "a", form_key: "f", assignee: "1", transitions: [], priority: "medium" }] });
  });

  test("shape errors name their path and step", async () => {
    expect(await problemsOf(proc(step("a", { priority: "urgent" })))).toEqual([
      { path: "steps[0].priority", step: "a", message: "must be one of low, medium, high, critical" },
    ]);
    expect(await problemsOf(proc(step("a", { next: "b" })))).toEqual([{ path: "steps[0].next", step: "a", message: "unknown key" }]);
    expect((await problemsOf(proc(step("a:b"))))[0]!.path).toBe("steps[0].id");
  });

  test("redeploying unchanged content is 'same'; any change is not", async () => {
    const a = await parseProcessDefinition(leaveProcess, formExists);
    const b = await parseProcessDefinition(JSON.parse(JSON.stringify(leaveProcess)), formExists);
    expect(isSameProcessDefinition(a, b)).toBe(true);
    const changed = structuredClone(leaveProcess);
    changed.steps[1]!.transitions![0]!.condition = "approved != true";
    expect(isSameProcessDefinition(a, await parseProcessDefinition(changed, formExists))).toBe(false);
  });
});
