import type * as grpc from "@grpc/grpc-js";
import processProto from "../../../protos/process.proto" with { type: "text" };
import { fromStruct, type WireStruct } from "../../domain/forms/index.ts";
import { instanceToWire, processToWire } from "../../domain/process/index.ts";
import { loadProtos, unary, type GrpcServer } from "../../platform/grpc.ts";
import { parseInput } from "../../platform/http.ts";
import { CORRELATION_HEADER } from "../../platform/http.ts";
import { fromGrpcDeadline } from "../../resilience/deadline.ts";
import type { GrpcCallOptions } from "../../transport/grpc-client.ts";
import { ListDefinitionsQuerySchema, ListInstancesQuerySchema, UserIdSchema } from "./model.ts";
import type { ProcessService } from "./service.ts";

export const processPackage = loadProtos([processProto]);
export const PROCESS_SERVICE = "processservice.ProcessService";

interface ListDefinitionsReq { key: string; limit: number; offset: number }
interface StartReq { definition_key: string; definition_version: number; variables: WireStruct | null; started_by: number; idempotency_key: string }
interface ListInstancesReq { definition_key: string; status: string; started_by: number; assignee: number; limit: number; offset: number; page_token: string }
interface CompleteReq { instance_id: string; step_id: string; user_id: number; data: WireStruct | null }
interface CancelReq { instance_id: string; user_id: number; reason: string }

/** The caller's deadline and correlation id, carried on to form-service. */
function callOptions(call: grpc.ServerUnaryCall<unknown, unknown>): GrpcCallOptions {
  const cid = call.metadata.get(CORRELATION_HEADER)[0];
  return { deadline: fromGrpcDeadline(call.getDeadline()), correlationId: typeof cid === "string" ? cid : undefined };
}

/** proto3 zero values mean "not set". */
const unset = <T>(x: T): T | undefined => (x === "" || x === 0 ? undefined : x);

export function addProcessGrpc(server: GrpcServer, processes: ProcessService): void {
  server.addService(processPackage.definition, PROCESS_SERVICE, {
    DeployDefinition: unary(async (req: Record<string, unknown>, call, caller) => {
      const { definition, created } = await processes.deploy(caller, req, callOptions(call));
      return { definition: processToWire(definition), created };
    }),
    GetDefinition: unary(async (req: { key: string; version: number }) => processToWire(await processes.getDefinition(req.key, Math.max(0, req.version)))),
    ListDefinitions: unary(async (req: ListDefinitionsReq) => {
      const q = parseInput(ListDefinitionsQuerySchema, { key: unset(req.key), limit: unset(req.limit), offset: req.offset }, "request");
      return { definitions: (await processes.listDefinitions(q)).map(processToWire) };
    }),
    StartInstance: unary(async (req: StartReq, _call, caller) => {
      const { instance } = await processes.start(caller, {
        key: req.definition_key,
        version: Math.max(0, req.definition_version),
        variables: fromStruct(req.variables),
        startedBy: req.started_by ? parseInput(UserIdSchema, req.started_by, "started_by") : undefined,
        idempotencyKey: req.idempotency_key,
      });
      return instanceToWire(instance);
    }),
    GetInstance: unary(async (req: { id: string }, _call, caller) => instanceToWire(await processes.getInstance(caller, req.id))),
    ListInstances: unary(async (req: ListInstancesReq, _call, caller) => {
      const q = parseInput(
        ListInstancesQuerySchema,
        { definition_key: unset(req.definition_key), status: unset(req.status), started_by: unset(req.started_by), assignee: unset(req.assignee), limit: unset(req.limit), offset: req.offset, cursor: unset(req.page_token), count: "none" },
        "request",
      );
      const page = await processes.pageInstances(caller, q);
      return { instances: page.items.map(instanceToWire), next_page_token: page.next_cursor ?? "" };
    }),
    CompleteStep: unary(async (req: CompleteReq, call, caller) => {
      const userId = req.user_id ? parseInput(UserIdSchema, req.user_id, "user_id") : undefined;
      return instanceToWire(await processes.complete(caller, { instanceId: req.instance_id, stepId: req.step_id, userId, data: fromStruct(req.data) }, callOptions(call)));
    }),
    CancelInstance: unary(async (req: CancelReq, _call, caller) => {
      const userId = req.user_id ? parseInput(UserIdSchema, req.user_id, "user_id") : undefined;
      return instanceToWire(await processes.cancel(caller, { instanceId: req.instance_id, userId, reason: req.reason }));
    }),
  });
}
