import { toStruct } from "../forms/struct.ts";
import type { StoredProcessDefinition } from "./definition.ts";
import type { ProcessInstance } from "./instance.ts";

/**
 * The processservice.ProcessDefinition message. (Requests need no converting: a proto-loader
 * DeployDefinitionRequest parses as is, its "" and 0 meaning "not set".)
 */
export function processToWire(def: StoredProcessDefinition): Record<string, unknown> {
  return {
    key: def.key,
    version: def.version,
    name: def.name,
    created_at: def.created_at,
    end_states: def.end_states,
    steps: def.steps.map((s) => ({ ...s, form_version: s.form_version ?? 0, default_next: s.default_next ?? "" })),
  };
}

/** The processservice.ProcessInstance message: Structs for variables and data, "" and 0 for unset. */
export function instanceToWire(instance: ProcessInstance): Record<string, unknown> {
  return {
    id: instance.id,
    definition_key: instance.definition_key,
    definition_version: instance.definition_version,
    status: instance.status,
    current_step: instance.current_step ?? "",
    current_assignee: instance.current_assignee ?? 0,
    end_state: instance.end_state ?? "",
    variables: toStruct(instance.variables),
    history: instance.history.map((h) => ({
      step_id: h.step_id,
      action: h.action,
      user_id: h.user_id,
      at: h.at,
      data: h.data === undefined ? null : toStruct(h.data),
      submission_id: h.submission_id ?? "",
      note: h.note ?? "",
    })),
    started_by: instance.started_by,
    created_at: instance.created_at,
    updated_at: instance.updated_at,
  };
}
