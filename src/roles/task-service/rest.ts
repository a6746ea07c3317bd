import { Elysia } from "elysia";
import { idempotencyKeyFrom, objectBody, parseInput } from "../../platform/http.ts";
import { principalFrom } from "../../platform/request-auth.ts";
import { SseRegistry, SseStream } from "../../platform/sse.ts";
import { ListTasksQuerySchema, SubscribeQuerySchema } from "../../domain/tasks/model.ts";
import type { TaskService } from "./service.ts";

/** REST edge of task-service: the same use cases as gRPC, JSON with proto field names. */
export function taskRoutes(tasks: TaskService, streams: SseRegistry) {
  return new Elysia({ name: "task-routes" })
    .post("/api/tasks", async ({ body, request, set }) => {
      const input = objectBody(body, true);
      const key = idempotencyKeyFrom(request.headers);
      if (key && input.idempotency_key === undefined) input.idempotency_key = key;
      const { task, created } = await tasks.create(principalFrom(request), input);
      set.status = created ? 201 : 200;
      set.headers.location = `/api/tasks/${task.id}`;
      return task;
    })
    .get("/api/tasks", async ({ query, request }) => {
      return tasks.page(principalFrom(request), parseInput(ListTasksQuerySchema, query, "query"));
    })
    .get("/api/tasks/stream", ({ query, request }) => {
      const q = parseInput(SubscribeQuerySchema, query, "query");
      const sse = streams.add(new SseStream(request.signal));
      const off = tasks.subscribe(principalFrom(request), { userId: q.user_id, taskIds: q.task_ids ? new Set(q.task_ids) : undefined }, (e) =>
        sse.send(e.event_type, e, e.task.id),
      );
      sse.onClose(off);
      return sse.response;
    })
    .get("/api/tasks/:id", ({ params, request }) => tasks.get(principalFrom(request), params.id))
    .patch("/api/tasks/:id", ({ params, body, request }) => tasks.update(principalFrom(request), params.id, objectBody(body, true)))
    .put("/api/tasks/:id", ({ params, body, request }) => tasks.update(principalFrom(request), params.id, objectBody(body, true)))
    .delete("/api/tasks/:id", async ({ params, request }) => {
      const t = await tasks.delete(principalFrom(request), params.id);
      return { success: true, message: `task ${t.id} deleted` };
    });
}
