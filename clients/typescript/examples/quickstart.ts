// The README's example: a task, a form and a one-step process, through the gateway.
// Run: BPM_URL=http://localhost:8000 BPM_TOKEN=$(./bpm token --sub=1) bun clients/typescript/examples/quickstart.ts
import { createBpmClient } from "../src/index.ts";

export async function quickstart(baseUrl: string, token: string, userId: number): Promise<{ taskId: number; submissionId: string; instanceStatus: string }> {
  const bpm = createBpmClient({ baseUrl, token });

  // tasks: create, change, read back
  const created = await bpm.POST("/api/tasks", { body: { title: "Review the contract", user_id: userId, priority: "high" } });
  if (!created.data) throw new Error(`create failed: ${created.error?.code} ${created.error?.error}`);
  const taskId = created.data.id;
  await bpm.PATCH("/api/tasks/{id}", { params: { path: { id: taskId } }, body: { status: "in_progress" } });
  const { data: task } = await bpm.GET("/api/tasks/{id}", { params: { path: { id: taskId } } });
  console.log(`task ${task?.id}: ${task?.title} (${task?.status})`);

  // forms: publish, then submit data to the version just published
  const published = await bpm.POST("/api/forms", {
    body: { key: "expense", title: "Expense claim", fields: [{ name: "amount", type: "number", required: true, min: 0 }, { name: "note", type: "string" }] },
  });
  if (!published.data) throw new Error(`publish failed: ${published.error?.code} ${published.error?.error}`);
  const submitted = await bpm.POST("/api/forms/{key}/submissions", {
    params: { path: { key: "expense" } },
    body: { form_version: published.data.form.version, data: { amount: 42.5, note: "train" } },
  });
  if (!submitted.data) throw new Error(`submit failed: ${submitted.error?.code} ${submitted.error?.error}`);

  // processes: deploy, start, complete the one step
  await bpm.POST("/api/processes", {
    body: { key: "expense-approval", steps: [{ id: "claim", form_key: "expense", assignee: String(userId), default_next: "done" }], end_states: [{ id: "done" }] },
  });
  const started = await bpm.POST("/api/processes/{key}/instances", { params: { path: { key: "expense-approval" } }, body: {} });
  if (!started.data) throw new Error(`start failed: ${started.error?.code} ${started.error?.error}`);
  const completed = await bpm.POST("/api/processes/instances/{id}/complete", {
    params: { path: { id: started.data.id } },
    body: { step_id: "claim", data: { amount: 10 } },
  });
  if (!completed.data) throw new Error(`complete failed: ${completed.error?.code} ${completed.error?.error}`);
  console.log(`instance ${completed.data.id}: ${completed.data.status} at ${completed.data.end_state}`);

  // errors are typed too: {error, code, correlation_id}
  const missing = await bpm.GET("/api/tasks/{id}", { params: { path: { id: 2147483647 } } });
  console.log(missing.response.status, missing.error?.code);

  return { taskId, submissionId: submitted.data.id, instanceStatus: completed.data.status };
}

if (import.meta.main) await quickstart(process.env.BPM_URL ?? "http://localhost:8000", process.env.BPM_TOKEN ?? "", Number(process.env.BPM_USER ?? 1));
