import type { Effect, ProcessDefinition, StoredProcessDefinition } from "../../domain/process/index.ts";
import type { OutboxRecord } from "./model.ts";

/** Rows as both engines return them (same column names, same JSON bodies). */
export interface DefinitionRow {
  key: string;
  version: number;
  body: string;
  created_at: string;
}

export interface OutboxRow {
  seq: number;
  instance_id: string;
  payload: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  traceparent: string | null;
  created_at: number;
}

export const toDefinition = (r: DefinitionRow): StoredProcessDefinition => ({ ...(JSON.parse(r.body) as ProcessDefinition), version: r.version, created_at: r.created_at });

export const toRecord = (r: OutboxRow): OutboxRecord => ({
  seq: r.seq,
  instanceId: r.instance_id,
  effect: JSON.parse(r.payload) as Effect,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  traceparent: r.traceparent,
  createdAt: r.created_at,
});
