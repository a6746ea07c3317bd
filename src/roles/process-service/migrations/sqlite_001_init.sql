-- Every deployed version of every process definition; a version never changes once written.
CREATE TABLE definitions (
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (key, version)
);

-- One row per instance: columns to filter on, the whole instance as JSON, and the revision for compare-and-set.
CREATE TABLE instances (
  id TEXT PRIMARY KEY,
  definition_key TEXT NOT NULL,
  definition_version INTEGER NOT NULL,
  status TEXT NOT NULL,
  current_step TEXT,
  current_assignee INTEGER,
  started_by INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  body TEXT NOT NULL,
  idempotency_key TEXT UNIQUE,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX instances_definition ON instances (definition_key, id);
CREATE INDEX instances_status ON instances (status, id);
CREATE INDEX instances_assignee ON instances (current_assignee, id) WHERE current_assignee IS NOT NULL;
CREATE INDEX instances_started_by ON instances (started_by, id);

-- Transactional outbox: effects written with the instance change that caused them, delivered in seq order per instance.
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  effect_key TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  traceparent TEXT,
  created_at INTEGER NOT NULL,
  done_at INTEGER
);
CREATE INDEX outbox_pending ON outbox (instance_id, seq) WHERE state = 'pending';
CREATE INDEX outbox_done ON outbox (done_at) WHERE state <> 'pending';

-- The task-service task each task key (instance:step:visit) became, so later effects can update it.
CREATE TABLE task_refs (
  task_key TEXT PRIMARY KEY,
  task_id INTEGER NOT NULL
);
