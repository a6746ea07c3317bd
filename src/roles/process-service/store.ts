import type { Effect, ProcessDefinition, ProcessInstance, StoredProcessDefinition } from "../../domain/process/index.ts";
import type { StoreSpans } from "../../telemetry/storage-spans.ts";
import type { DefinitionFilter, InstanceFilter, InstanceMatch, OutboxRecord, OutboxState } from "./model.ts";

/**
 * Where definitions, instances and the outbox live. Every instance write and the effects it
 * causes go in ONE transaction, so an acknowledged change always has its effects queued.
 */
export interface ProcessStore {
  /** Stores the next version, or returns the latest unchanged when the content is the same (decided inside the write). */
  deploy(def: ProcessDefinition, now: string): Promise<{ definition: StoredProcessDefinition; created: boolean }>;
  /** version 0 = the latest. */
  getDefinition(key: string, version: number): Promise<StoredProcessDefinition | undefined>;
  listDefinitions(filter: DefinitionFilter): Promise<StoredProcessDefinition[]>;
  countDefinitions(filter: Omit<DefinitionFilter, "limit" | "offset">): Promise<number>;

  /** Inserts the instance with its effects; a used idempotency key returns that key's instance instead. */
  createInstance(instance: ProcessInstance, effects: readonly Effect[], opts: { idempotencyKey?: string; traceparent?: string; now: number }): Promise<{ instance: ProcessInstance; created: boolean }>;
  getInstance(id: string): Promise<ProcessInstance | undefined>;
  /** Compare-and-set on the revision: writes the instance and its effects when the stored revision is `expectedRevision`, else writes nothing and returns false. */
  updateInstance(instance: ProcessInstance, expectedRevision: number, effects: readonly Effect[], opts: { traceparent?: string; now: number }): Promise<boolean>;
  /** Matching instances newest first (id descending, before `before_id` when given), each filter served by an index in that order. */
  listInstances(filter: InstanceFilter): Promise<ProcessInstance[]>;
  /** How many instances match, counting at most `upTo` when given. */
  countInstances(filter: InstanceMatch, upTo?: number): Promise<number>;

  /** The oldest pending record of each instance that is due at `now`, oldest first, skipping `busyInstances`. */
  dueOutbox(now: number, limit: number, busyInstances: ReadonlySet<string>): Promise<OutboxRecord[]>;
  /** When the earliest pending instance head becomes due (epoch ms), if any record is pending. */
  nextOutboxDueAt(): Promise<number | undefined>;
  /** Delivered; `taskRef` remembers which task a create became. */
  markDelivered(seq: number, now: number, taskRef?: { taskKey: string; taskId: number }): Promise<void>;
  /** Failed for now: try again at `nextAttemptAt`. */
  markRetry(seq: number, attempts: number, nextAttemptAt: number, error: string): Promise<void>;
  /** Failed for good: never tried again, and no longer holds back the instance's later records. */
  markDead(seq: number, now: number, error: string): Promise<void>;
  /** The state of the record written for an effect key (a create's key is its task key). */
  outboxState(effectKey: string): Promise<OutboxState | undefined>;
  taskIdFor(taskKey: string): Promise<number | undefined>;
  outboxCounts(): Promise<{ pending: number; dead: number; oldestCreatedAtMs?: number }>;
  /** Deletes delivered records finished before `before` (epoch ms); returns how many. */
  pruneOutbox(before: number): Promise<number>;

  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * One storage span per call. An instance write and the outbox
 * records it queues are one transaction, so one span. `claim` is what dueOutbox does: a plain
 * SELECT on SQLite (one instance), an UPDATE that claims the rows on PostgreSQL (replicas).
 * Methods the dispatcher calls while polling (dueOutbox, nextOutboxDueAt, outboxCounts, pruneOutbox)
 * have no request around them and so make no spans; the ones a dispatch makes do.
 */
function processStoreSpans(tables: { definitions: string; instances: string; outbox: string; taskRefs: string }, claim: "SELECT" | "UPDATE"): StoreSpans<ProcessStore> {
  return {
    deploy: ["INSERT", tables.definitions],
    getDefinition: ["SELECT", tables.definitions],
    listDefinitions: ["SELECT", tables.definitions],
    countDefinitions: ["SELECT", tables.definitions],
    createInstance: ["INSERT", tables.instances],
    getInstance: ["SELECT", tables.instances],
    updateInstance: ["UPDATE", tables.instances],
    listInstances: ["SELECT", tables.instances],
    countInstances: ["SELECT", tables.instances],
    dueOutbox: [claim, tables.outbox],
    nextOutboxDueAt: ["SELECT", tables.outbox],
    markDelivered: ["UPDATE", tables.outbox],
    markRetry: ["UPDATE", tables.outbox],
    markDead: ["UPDATE", tables.outbox],
    outboxState: ["SELECT", tables.outbox],
    taskIdFor: ["SELECT", tables.taskRefs],
    outboxCounts: ["SELECT", tables.outbox],
    pruneOutbox: ["DELETE", tables.outbox],
  };
}

/** Each engine's span names: its own tables, and what claiming due records is on it. */
export const PROCESS_STORE_SPANS = {
  sqlite: processStoreSpans({ definitions: "definitions", instances: "instances", outbox: "outbox", taskRefs: "task_refs" }, "SELECT"),
  postgresql: processStoreSpans({ definitions: "process_definitions", instances: "process_instances", outbox: "process_outbox", taskRefs: "process_task_refs" }, "UPDATE"),
} as const;
