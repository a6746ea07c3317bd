-- Same shape as sqlite_001_init.sql. Table names carry the role, as several roles may share one database.
-- JSON stays TEXT (read back byte for byte); epoch-millisecond times are BIGINT.
CREATE TABLE process_definitions (
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (key, version)
);

CREATE TABLE process_instances (
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
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX process_instances_definition ON process_instances (definition_key, id);
CREATE INDEX process_instances_status ON process_instances (status, id);
CREATE INDEX process_instances_assignee ON process_instances (current_assignee, id) WHERE current_assignee IS NOT NULL;
CREATE INDEX process_instances_started_by ON process_instances (started_by, id);

-- claimed_until: a replica delivering a record holds it until then, so replicas do not deliver one record twice at once.
CREATE TABLE process_outbox (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  instance_id TEXT NOT NULL,
  effect_key TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  claimed_until BIGINT NOT NULL DEFAULT 0,
  last_error TEXT,
  traceparent TEXT,
  created_at BIGINT NOT NULL,
  done_at BIGINT
);
CREATE INDEX process_outbox_pending ON process_outbox (instance_id, seq) WHERE state = 'pending';
CREATE INDEX process_outbox_done ON process_outbox (done_at) WHERE state <> 'pending';

CREATE TABLE process_task_refs (
  task_key TEXT PRIMARY KEY,
  task_id INTEGER NOT NULL
);
