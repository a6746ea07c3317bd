CREATE TABLE tasks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  priority TEXT NOT NULL,
  status TEXT NOT NULL,
  user_id INTEGER NOT NULL,
  project_id INTEGER NOT NULL DEFAULT 0,
  process_instance_id TEXT NOT NULL DEFAULT '',
  step_id TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT UNIQUE,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX tasks_user_status ON tasks (user_id, status, id);
CREATE INDEX tasks_process_instance ON tasks (process_instance_id) WHERE process_instance_id <> '';
