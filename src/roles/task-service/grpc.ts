import * as grpc from "@grpc/grpc-js";
import taskProto from "../../../protos/task.proto" with { type: "text" };
import { loadProtos, serverStream, unary, writeWithBackpressure, type GrpcServer } from "../../platform/grpc.ts";
import { ValidationError } from "../../platform/errors.ts";
import { STATUSES, type Status, type Task, type TaskEvent } from "../../domain/tasks/model.ts";
import { isValidTaskId, type TaskService } from "./service.ts";

export const taskPackage = loadProtos([taskProto]);
export const TASK_SERVICE = "taskservice.TaskService";

interface ListReq { user_id: number; limit: number; offset: number; status: string; process_instance_id: string; page_token: string; project_id: number }

/** Trailing metadata entry of a ListTasks call that `limit` cut short: the next call's page_token. */
export const NEXT_PAGE_TOKEN = "next-page-token";
interface SubscribeReq { user_id: number; task_ids: number[] }
type UpdateReq = { id: number } & Partial<Record<"title" | "description" | "priority" | "status", string>> & { user_id?: number };

/** proto3 leaves unset scalars at their zero value; only a real value is an input. */
function present<T extends Record<string, unknown>>(req: T, keys: readonly (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  for (const k of keys) if (req[k] !== undefined && req[k] !== null && req[k] !== "" && req[k] !== 0) out[k] = req[k];
  return out;
}

export function addTaskGrpc(server: GrpcServer, tasks: TaskService): void {
  server.addService(taskPackage.definition, TASK_SERVICE, {
    CreateTask: unary(async (req: Record<string, unknown>, _call, caller) => (await tasks.create(caller, present(req, ["title", "description", "priority", "status", "user_id", "project_id", "process_instance_id", "step_id", "idempotency_key"]))).task),
    GetTask: unary((req: { id: number }, _call, caller) => tasks.get(caller, req.id)),
    // optional fields arrive only when the client set them, so unset ones keep their value
    UpdateTask: unary((req: UpdateReq, _call, caller) => {
      const { id, ...rest } = req;
      const patch: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(rest)) if (val !== undefined && val !== null && !k.startsWith("_")) patch[k] = val;
      return tasks.update(caller, id, patch);
    }),
    DeleteTask: unary(async (req: { id: number }, _call, caller) => {
      const t = await tasks.delete(caller, req.id);
      return { success: true, message: `task ${t.id} deleted` };
    }),
    ListTasks: serverStream(async (req: ListReq, call: grpc.ServerWritableStream<ListReq, Task>, signal, caller) => {
      if (req.limit < 0) throw new ValidationError("limit must not be negative");
      if (req.offset < 0) throw new ValidationError("offset must not be negative");
      if (req.user_id < 0) throw new ValidationError("user_id must be a positive integer");
      if (req.project_id < 0) throw new ValidationError("project_id must be a positive integer");
      if (req.status && !STATUSES.includes(req.status as Status)) throw new ValidationError(`status must be one of ${STATUSES.join(", ")}`);
      const limit = req.limit || undefined;
      const filter = {
        user_id: req.user_id || undefined,
        status: (req.status || undefined) as Status | undefined,
        process_instance_id: req.process_instance_id || undefined,
        project_id: req.project_id || undefined,
        after_id: req.page_token ? tasks.cursorPosition(req.page_token, "page_token") : undefined,
        // one more than asked tells whether a next page exists
        limit: limit === undefined ? undefined : limit + 1,
        offset: req.offset,
      };
      let sent = 0;
      let last: Task | undefined;
      let more = false;
      for await (const task of tasks.list(caller, filter)) {
        if (signal.aborted) return;
        if (sent === limit) {
          more = true;
          break;
        }
        await writeWithBackpressure(call, task, signal);
        sent++;
        last = task;
      }
      if (signal.aborted || call.cancelled) return;
      const trailer = new grpc.Metadata();
      if (more && last) trailer.set(NEXT_PAGE_TOKEN, tasks.cursorAfter(last));
      call.end(trailer);
    }),
    StreamTaskUpdates: serverStream(async (req: SubscribeReq, call: grpc.ServerWritableStream<SubscribeReq, TaskEvent>, signal, caller) => {
      if (req.user_id < 0) throw new ValidationError("user_id must be a positive integer");
      // a task id is positive: a subscription to one that cannot exist would wait forever for nothing
      if ((req.task_ids ?? []).some((id) => !isValidTaskId(id))) throw new ValidationError("task_ids must be positive integer task ids");
      const unsubscribe = tasks.subscribe(caller, { userId: req.user_id || undefined, taskIds: new Set(req.task_ids ?? []) }, (e) => {
        if (!signal.aborted) call.write(e);
      });
      // frees the subscription when the client cancels or the server shuts down
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      unsubscribe();
    }, { live: true }),
  });
}
