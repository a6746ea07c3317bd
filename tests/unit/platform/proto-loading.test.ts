import { describe, expect, test } from "bun:test";
import descriptor from "protobufjs/ext/descriptor";
import formProto from "../../../protos/form.proto" with { type: "text" };
import processProto from "../../../protos/process.proto" with { type: "text" };
import taskProto from "../../../protos/task.proto" with { type: "text" };
import { fromStruct, toStruct } from "../../../src/domain/forms/index.ts";
import { loadProtos } from "../../../src/platform/grpc.ts";

type Method = { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): Record<string, unknown> };
const method = (def: Record<string, unknown>, service: string, name: string) => (def[service] as Record<string, Method>)[name]!;

function files(def: Record<string, unknown>, anyMessage: string): Record<string, any> {
  const bins = (def[anyMessage] as { fileDescriptorProtos: Buffer[] }).fileDescriptorProtos;
  return Object.fromEntries(bins.map((b) => {
    const f = descriptor.FileDescriptorProto.toObject(descriptor.FileDescriptorProto.decode(b)) as Record<string, any>;
    return [f.name, f];
  }));
}

describe("loadProtos", () => {
  test("two protos importing google/protobuf/struct.proto load together", () => {
    const { definition } = loadProtos([formProto, processProto]);
    expect(definition["formservice.FormService"]).toBeDefined();
    expect(definition["processservice.ProcessService"]).toBeDefined();
  });

  test("a Struct keeps its map through serialization (nested objects, lists, null)", () => {
    const { definition } = loadProtos([processProto]);
    const m = method(definition, "processservice.ProcessService", "StartInstance");
    const variables = { employee_id: 11, org: { manager: "22", levels: [1, "two", null, true] }, note: null };
    const back = m.requestDeserialize(m.requestSerialize({ definition_key: "leave", variables: toStruct(variables) }));
    expect(fromStruct(back.variables as never)).toEqual(variables);
  });

  test("reflection gets one file per package, struct.proto under its real name, with dependencies", () => {
    const { definition } = loadProtos([formProto]);
    const byName = files(definition, "formservice.FormField");
    expect(Object.keys(byName).sort()).toEqual(["formservice.proto", "google/protobuf/struct.proto"]);
    expect(byName["formservice.proto"].dependency).toEqual(["google/protobuf/struct.proto"]);
    expect(byName["google/protobuf/struct.proto"].dependency ?? []).toEqual([]);
  });

  test("descriptors look like protoc's: FieldsEntry map entry, snake_case Value fields, proto3 optional", () => {
    const { definition } = loadProtos([formProto]);
    const struct = files(definition, "formservice.FormField")["google/protobuf/struct.proto"];
    const structMsg = struct.messageType.find((m: any) => m.name === "Struct");
    expect(structMsg.nestedType[0]).toMatchObject({ name: "FieldsEntry", options: { mapEntry: true } });
    expect(structMsg.field[0]).toMatchObject({ name: "fields", label: 3, typeName: ".google.protobuf.Struct.FieldsEntry" });
    const value = struct.messageType.find((m: any) => m.name === "Value");
    expect(value.field.map((f: any) => f.name)).toEqual(["null_value", "number_value", "string_value", "bool_value", "struct_value", "list_value"]);
    const formField = files(definition, "formservice.FormField")["formservice.proto"].messageType.find((m: any) => m.name === "FormField");
    expect(formField.field.find((f: any) => f.name === "min")).toMatchObject({ proto3Optional: true, oneofIndex: 0 });
    expect(formField.field.find((f: any) => f.name === "default")).toMatchObject({ typeName: ".google.protobuf.Value" });
  });

  test("a proto without imports describes itself alone, no packed option on strings", () => {
    const { definition } = loadProtos([taskProto]);
    const byName = files(definition, "taskservice.TaskResponse");
    expect(Object.keys(byName)).toEqual(["taskservice.proto"]);
    const create = byName["taskservice.proto"].messageType.find((m: any) => m.name === "CreateTaskRequest");
    expect(create.field.every((f: any) => f.options?.packed === undefined)).toBe(true);
  });
});
