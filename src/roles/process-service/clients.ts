import { status as GrpcStatus, type ChannelCredentials, type ChannelOptions } from "@grpc/grpc-js";
import formProto from "../../../protos/form.proto" with { type: "text" };
import taskProto from "../../../protos/task.proto" with { type: "text" };
import type { ServiceBalancers } from "../../balancing/service-balancers.ts";
import { fromStruct, toStruct, type FieldError, type JsonObject, type WireStruct } from "../../domain/forms/index.ts";
import type { CreateTask } from "../../domain/process/index.ts";
import { loadProtos } from "../../platform/grpc.ts";
import type { Downstreams } from "../../transport/downstreams.ts";
import { ResilientGrpcClient, type GrpcCallOptions } from "../../transport/grpc-client.ts";
import { grpcCodeOf, upstreamError } from "./upstream.ts";

/** What process-service asks of form-service. Failures arrive as BpmErrors (503 outage, 504 timeout, …). */
export interface FormsPort {
  /** Whether form `key` exists (in `version`, when given). */
  exists(key: string, version?: number, o?: GrpcCallOptions): Promise<boolean>;
  /** Checks data against the form; stores nothing. */
  validate(key: string, version: number, data: JsonObject, o?: GrpcCallOptions): Promise<{ valid: boolean; errors: FieldError[]; data: JsonObject; formVersion: number }>;
  /** Stores validated data; a repeated idempotency key returns the first submission. */
  submit(req: { formKey: string; formVersion: number; data: JsonObject; submittedBy: number; instanceId: string; stepId: string; idempotencyKey: string }, o?: GrpcCallOptions): Promise<{ id: string }>;
}

/** What the outbox asks of task-service. Failures arrive raw, so the dispatcher can tell refusals from outages. */
export interface TasksPort {
  /** Creates the step's task (idempotent on the effect's key); returns its id. */
  create(effect: CreateTask, o?: GrpcCallOptions): Promise<number>;
  setStatus(taskId: number, status: "done" | "cancelled", o?: GrpcCallOptions): Promise<void>;
}

interface Wiring {
  balancers: ServiceBalancers;
  downstreams: Downstreams;
  /** The calling role, for client metrics and spans. */
  role?: string;
  /** The calling role's service credential (docs/security.md). */
  authorization?: () => Promise<string | undefined>;
  /** TLS to the peer (platform/grpc-tls.ts), or plaintext when absent. */
  channelCredentials?: () => ChannelCredentials;
  channelOptions?: ChannelOptions;
}

const formPackage = loadProtos([formProto]);
const taskPackage = loadProtos([taskProto]);

/** form-service over gRPC through discovery, balancer, breaker `formService`, retry and deadline. */
export class GrpcFormsClient implements FormsPort {
  private readonly client: ResilientGrpcClient;

  constructor(w: Wiring) {
    this.client = new ResilientGrpcClient({ service: "form-service", downstream: "formService", definition: formPackage.definition, protoService: "formservice.FormService", ...w });
  }

  async exists(key: string, version = 0, o: GrpcCallOptions = {}): Promise<boolean> {
    try {
      await this.client.unary("GetForm", { key, version }, { ...o, idempotent: true });
      return true;
    } catch (err) {
      if (grpcCodeOf(err) === GrpcStatus.NOT_FOUND) return false;
      throw upstreamError("form-service", err);
    }
  }

  async validate(key: string, version: number, data: JsonObject, o: GrpcCallOptions = {}) {
    try {
      const res = await this.client.unary<{ valid: boolean; errors: FieldError[]; data: WireStruct | null; form_version: number }>(
        "ValidateSubmission",
        { form_key: key, form_version: version, data: toStruct(data) },
        { ...o, idempotent: true },
      );
      return { valid: res.valid, errors: res.errors, data: fromStruct(res.data), formVersion: res.form_version };
    } catch (err) {
      throw upstreamError("form-service", err);
    }
  }

  async submit(req: Parameters<FormsPort["submit"]>[0], o: GrpcCallOptions = {}): Promise<{ id: string }> {
    try {
      const res = await this.client.unary<{ id: string }>(
        "SubmitForm",
        {
          form_key: req.formKey,
          form_version: req.formVersion,
          data: toStruct(req.data),
          submitted_by: req.submittedBy,
          process_instance_id: req.instanceId,
          step_id: req.stepId,
          idempotency_key: req.idempotencyKey,
        },
        // safe to repeat: the idempotency key makes a second submit return the first
        { ...o, idempotent: true },
      );
      return { id: res.id };
    } catch (err) {
      throw upstreamError("form-service", err);
    }
  }

  close(): void {
    this.client.close();
  }
}

/** task-service over gRPC through discovery, balancer, breaker `taskService`, retry and deadline. */
export class GrpcTasksClient implements TasksPort {
  private readonly client: ResilientGrpcClient;

  constructor(w: Wiring) {
    this.client = new ResilientGrpcClient({ service: "task-service", downstream: "taskService", definition: taskPackage.definition, protoService: "taskservice.TaskService", ...w });
  }

  async create(effect: CreateTask, o: GrpcCallOptions = {}): Promise<number> {
    const task = await this.client.unary<{ id: number }>(
      "CreateTask",
      {
        title: effect.title,
        description: effect.description,
        priority: effect.priority,
        user_id: effect.assigneeUserId,
        process_instance_id: effect.instanceId,
        step_id: effect.stepId,
        idempotency_key: effect.idempotencyKey,
      },
      { ...o, idempotent: true },
    );
    return task.id;
  }

  async setStatus(taskId: number, status: "done" | "cancelled", o: GrpcCallOptions = {}): Promise<void> {
    // setting the same status twice changes nothing, so a redelivery is harmless
    await this.client.unary("UpdateTask", { id: taskId, status }, { ...o, idempotent: true });
  }

  close(): void {
    this.client.close();
  }
}
