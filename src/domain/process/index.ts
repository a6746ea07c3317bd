// Process definitions and the engine: pure functions over instance state, no I/O. See docs/bpm-model.md.
export { asUserId, MAX_USER_ID, parseAssignee, resolveAssignee, type Assignee } from "./assignee.ts";
export {
  END,
  ID_PATTERN,
  isSameProcessDefinition,
  parseProcessDefinition,
  PRIORITIES,
  ProcessDefinitionSchema,
  type EndState,
  type FormExists,
  type Priority,
  type ProcessDefinition,
  type ProcessDefinitionInput,
  type Rule,
  type StoredProcessDefinition,
  type Step,
} from "./definition.ts";
export { taskKey, type CancelTask, type CompleteTask, type CreateTask, type Effect } from "./effects.ts";
export {
  cancelInstance,
  completeStep,
  failInstance,
  findStep,
  nextTarget,
  openTaskKey,
  startInstance,
  visitOf,
  type Transition,
} from "./engine.ts";
export { compileCondition, ExpressionError, parseExpression, variablesOf, type Condition, type Expr } from "./expression/index.ts";
export {
  HISTORY_ACTIONS,
  HistoryEntrySchema,
  INSTANCE_STATUSES,
  parseInstance,
  ProcessInstanceSchema,
  type HistoryAction,
  type HistoryEntry,
  type InstanceStatus,
  type ProcessInstance,
} from "./instance.ts";
export { instanceToWire, processToWire } from "./wire.ts";
