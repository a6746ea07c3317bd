import * as grpc from "@grpc/grpc-js";
import processProto from "../../../protos/process.proto" with { type: "text" };
import type { ServiceBalancers } from "../../balancing/service-balancers.ts";
import { BpmError, UnavailableError } from "../../platform/errors.ts";
import { loadProtos } from "../../platform/grpc.ts";
import type { Principal } from "../../platform/principal.ts";
import type { Downstreams } from "../../transport/downstreams.ts";
import { ResilientGrpcClient } from "../../transport/grpc-client.ts";
import type { ParticipantsPort } from "./service.ts";

const processPackage = loadProtos([processProto]);

/**
 * Asks process-service, with the caller's own credential, whether it may read an instance:
 * process-service owns the rule (participants and admins), so form-service never copies it.
 */
export class GrpcParticipants implements ParticipantsPort {
  private readonly client: ResilientGrpcClient;

  constructor(w: { balancers: ServiceBalancers; downstreams: Downstreams; role: string; channelCredentials?: () => grpc.ChannelCredentials; channelOptions?: grpc.ChannelOptions }) {
    this.client = new ResilientGrpcClient({ service: "process-service", downstream: "processService", definition: processPackage.definition, protoService: "processservice.ProcessService", ...w });
  }

  async mayReadInstance(caller: Principal, instanceId: string): Promise<boolean> {
    if (caller.authorization === undefined) return false;
    try {
      await this.client.unary("GetInstance", { id: instanceId }, { idempotent: true, metadata: { authorization: caller.authorization } });
      return true;
    } catch (err) {
      const code = (err as grpc.ServiceError)?.code;
      if (code === grpc.status.NOT_FOUND || code === grpc.status.PERMISSION_DENIED || code === grpc.status.UNAUTHENTICATED) return false;
      if (err instanceof BpmError) throw err;
      throw new UnavailableError("process-service could not say who takes part in the submission's process");
    }
  }

  close(): void {
    this.client.close();
  }
}
