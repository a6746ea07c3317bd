// The process definition schemas and the types inferred from them; parsing and checks live in definition.ts.
import * as v from "valibot";
import { KeySchema } from "../forms/definition-schema.ts";

export const PRIORITIES = ["low", "medium", "high", "critical"] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Step and end state ids appear in task idempotency keys (`instance:step:visit`), hence no ':'. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const MAX_STEPS = 100;
const MAX_RULES = 50;
const MAX_END_STATES = 20;

const text = (max: number) => v.pipe(v.string("must be a string"), v.maxLength(max, `must be at most ${max} characters`));
const IdSchema = v.pipe(v.string("must be a string"), v.regex(ID_PATTERN, "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit"));

const RuleSchema = v.strictObject(
  {
    condition: v.pipe(v.string("must be a string"), v.trim(), v.nonEmpty("must not be empty")),
    target: IdSchema,
  },
  "must be an object with condition and target",
);

const StepSchema = v.pipe(
  v.strictObject(
    {
      id: IdSchema,
      name: v.nullish(text(200)),
      form_key: KeySchema,
      // 0 = the form's latest version when the step is completed
      form_version: v.nullish(v.pipe(v.number("must be a number"), v.integer("must be an integer"), v.minValue(0, "must not be negative"))),
      // a number is accepted for REST users and kept as text, as the proto has it
      assignee: v.union([v.pipe(v.string(), v.trim(), v.nonEmpty()), v.pipe(v.number(), v.integer(), v.transform(String))], "must be a user id or a variable like ${manager_id}"),
      transitions: v.nullish(v.pipe(v.array(RuleSchema, "must be an array of rules"), v.maxLength(MAX_RULES, `must have at most ${MAX_RULES} rules`))),
      default_next: v.nullish(v.union([v.literal(""), IdSchema], "must be a step or end state id")),
      priority: v.nullish(v.union([v.literal(""), v.picklist(PRIORITIES)], `must be one of ${PRIORITIES.join(", ")}`)),
    },
    "must be an object",
  ),
  v.transform((s) => {
    const step: {
      id: string;
      name: string;
      form_key: string;
      form_version?: number;
      assignee: string;
      transitions: { condition: string; target: string }[];
      default_next?: string;
      priority: Priority;
    } = { id: s.id, name: s.name || s.id, form_key: s.form_key, assignee: s.assignee, transitions: s.transitions ?? [], priority: s.priority || "medium" };
    if (s.form_version) step.form_version = s.form_version;
    if (s.default_next) step.default_next = s.default_next;
    return step;
  }),
);

const EndStateSchema = v.pipe(
  v.strictObject({ id: IdSchema, name: v.nullish(text(200)) }, "must be an object with an id"),
  v.transform((e) => ({ id: e.id, name: e.name || e.id })),
);

export const ProcessDefinitionSchema = v.pipe(
  v.strictObject(
    {
      key: KeySchema,
      name: v.nullish(text(200)),
      steps: v.pipe(v.array(StepSchema, "must be an array of steps"), v.minLength(1, "must have at least one step"), v.maxLength(MAX_STEPS, `must have at most ${MAX_STEPS} steps`)),
      end_states: v.nullish(v.pipe(v.array(EndStateSchema, "must be an array of end states"), v.maxLength(MAX_END_STATES, `must have at most ${MAX_END_STATES} end states`))),
      // accepted and ignored, so a fetched definition can be edited and deployed again
      version: v.optional(v.unknown()),
      created_at: v.optional(v.unknown()),
    },
    "must be a JSON object",
  ),
  v.transform((d) => ({ key: d.key, name: d.name || d.key, steps: d.steps, end_states: d.end_states ?? [] })),
);

export type Step = v.InferOutput<typeof StepSchema>;
export type Rule = Step["transitions"][number];
export type EndState = v.InferOutput<typeof EndStateSchema>;
export type ProcessDefinition = v.InferOutput<typeof ProcessDefinitionSchema>;
export type ProcessDefinitionInput = v.InferInput<typeof ProcessDefinitionSchema>;
export type StoredProcessDefinition = ProcessDefinition & { version: number; created_at: string };
