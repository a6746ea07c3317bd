-- Same shape as sqlite_001_init.sql; id is int4 because the proto's task id is int32.
CREATE TABLE tasks (
  id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  priority TEXT NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
  status TEXT NOT NULL CHECK (status IN ('todo', 'in_progress', 'blocked', 'done', 'cancelled')),
  user_id INTEGER NOT NULL,
  project_id INTEGER NOT NULL DEFAULT 0,
  process_instance_id TEXT NOT NULL DEFAULT '',
  step_id TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT UNIQUE,
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX tasks_user_status ON tasks (user_id, status, id);
CREATE INDEX tasks_process_instance ON tasks (process_instance_id) WHERE process_instance_id <> '';
