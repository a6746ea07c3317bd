// A Node.js gRPC client for bpm: the .proto files in protos/ are the contract.
//   node clients/grpc-node/example.mjs TASK_ADDR PROCESS_ADDR FORM_ADDR [TOKEN]
// e.g. node clients/grpc-node/example.mjs 127.0.0.1:50051 127.0.0.1:50053 127.0.0.1:50052 "$(./bpm token --sub=1)"
// Prints one JSON line with what it did. Needs @grpc/grpc-js and @grpc/proto-loader (npm i).
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const protos = join(dirname(fileURLToPath(import.meta.url)), "../../protos");
// keepCase: fields keep the proto's snake_case names, as on the REST side
const load = (file) => grpc.loadPackageDefinition(protoLoader.loadSync(join(protos, file), { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true }));
const { taskservice } = load("task.proto");
const { formservice } = load("form.proto");
const { processservice } = load("process.proto");

const [taskAddr, processAddr, formAddr, token] = process.argv.slice(2);
const insecure = grpc.credentials.createInsecure();
const tasks = new taskservice.TaskService(taskAddr, insecure);
const forms = new formservice.FormService(formAddr, insecure);
const processes = new processservice.ProcessService(processAddr, insecure);

/** The user's JWT goes in the `authorization` metadata, as over HTTP. */
function metadata() {
  const md = new grpc.Metadata();
  if (token) md.set("authorization", `Bearer ${token}`);
  return md;
}
const unary = (client, method, request) =>
  new Promise((resolve, reject) => client[method](request, metadata(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res))));

async function main() {
  // unary calls
  const task = await unary(tasks, "CreateTask", { title: "from Node", priority: "high", user_id: 1 });
  const updated = await unary(tasks, "UpdateTask", { id: task.id, status: "in_progress" });

  // a server stream: ListTasks sends every match, then ends
  const listed = await new Promise((resolve, reject) => {
    const seen = [];
    const stream = tasks.ListTasks({ user_id: 1 }, metadata());
    stream.on("data", (t) => seen.push(t.id));
    stream.on("error", reject);
    stream.on("end", () => resolve(seen));
  });

  // errors are gRPC statuses: INVALID_ARGUMENT for bad input, NOT_FOUND, …
  let invalid;
  try {
    await unary(tasks, "CreateTask", { title: "", user_id: 1 });
  } catch (err) {
    invalid = grpc.status[err.code];
  }

  // a form, a process over it, an instance: google.protobuf.Struct fields take { fields: { k: { numberValue } } }
  const form = await unary(forms, "PublishForm", { key: "grpc-note", title: "Note", fields: [{ name: "text", type: "string", required: true }] });
  const deployed = await unary(processes, "DeployDefinition", {
    key: "grpc-note-flow",
    steps: [{ id: "write", form_key: "grpc-note", assignee: "1", default_next: "done" }],
    end_states: [{ id: "done" }],
  });
  const instance = await unary(processes, "StartInstance", { definition_key: "grpc-note-flow", started_by: 1 });
  const completed = await unary(processes, "CompleteStep", {
    instance_id: instance.id,
    step_id: "write",
    user_id: 1,
    data: { fields: { text: { stringValue: "hello" } } },
  });

  process.stdout.write(
    JSON.stringify({
      task: { id: task.id, status: updated.status },
      listed: listed.includes(task.id),
      invalid,
      form: form.form.key,
      process: deployed.definition.key,
      instance: { id: completed.id, status: completed.status, end_state: completed.end_state },
    }) + "\n",
  );
}

main()
  .catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    process.exitCode = 1;
  })
  .finally(() => [tasks, forms, processes].forEach((c) => c.close()));
