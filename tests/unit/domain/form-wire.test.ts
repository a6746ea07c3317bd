import { describe, expect, test } from "bun:test";
import * as protoLoader from "@grpc/proto-loader";
import { join } from "node:path";
import { formInputFromWire, formToWire, fromStruct, parseFormDefinition, toStruct } from "../../../src/domain/forms/index.ts";

// The options the gRPC platform loads protos with (src/platform/grpc.ts).
const definition = protoLoader.loadSync(join(import.meta.dir, "../../../protos/form.proto"), {
  keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
});
type Codec = { serialize(v: unknown): Buffer; deserialize(b: Buffer): Record<string, unknown> };
const method = (name: string) => (definition["formservice.FormService"] as Record<string, { requestSerialize: Codec["serialize"]; requestDeserialize: Codec["deserialize"]; responseSerialize: Codec["serialize"]; responseDeserialize: Codec["deserialize"] }>)[name]!;

describe("form.proto wire mapping", () => {
  const input = {
    key: "leave-request",
    title: "Leave request",
    fields: [
      { name: "days", type: "integer", required: true, min: 1, max: 30, default: 1 },
      { name: "kind", type: "enum", options: ["annual", "sick"], default: "annual" },
      { name: "reason", type: "string", max_length: 200, pattern: "^[^<>]*$" },
      { name: "approved", type: "boolean", default: false },
    ],
  };

  test("a PublishFormRequest that went over the wire parses to the same definition as the REST JSON", () => {
    const { requestSerialize, requestDeserialize } = method("PublishForm");
    const wireInput = { ...input, fields: formToWire({ ...parseFormDefinition(input), version: 0, created_at: "" }).fields };
    const received = requestDeserialize(requestSerialize(wireInput));
    expect(Object.keys((received.fields as Record<string, unknown>[])[0]!)).toContain("_min");
    expect(parseFormDefinition(formInputFromWire(received))).toEqual(parseFormDefinition(input));
  });

  test("a stored definition comes back from GetForm unchanged", () => {
    const { responseSerialize, responseDeserialize } = method("GetForm");
    const stored = { ...parseFormDefinition(input), version: 2, created_at: "2025-01-01T00:00:00.000Z" };
    const received = responseDeserialize(responseSerialize(formToWire(stored)));
    expect(received.version).toBe(2);
    expect({ ...parseFormDefinition(formInputFromWire(received)), version: received.version, created_at: received.created_at }).toEqual(stored);
  });

  test("submission data crosses as a Struct; a plain object would arrive empty", () => {
    const { requestSerialize, requestDeserialize } = method("SubmitForm");
    const data = { days: 3, approved: false, reason: "family" };
    const viaStruct = requestDeserialize(requestSerialize({ form_key: "leave-request", data: toStruct(data) }));
    expect(fromStruct(viaStruct.data as never)).toEqual(data);
    const plain = requestDeserialize(requestSerialize({ form_key: "leave-request", data }));
    expect(fromStruct(plain.data as never)).toEqual({});
  });
});
