-- Same shape as sqlite_001_init.sql. Table names carry the role, as several roles may share one database.
-- JSON stays TEXT: it reads back byte for byte (JSONB would reorder keys).
CREATE TABLE forms (
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  title TEXT NOT NULL,
  fields TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (key, version)
);

CREATE TABLE form_submissions (
  id TEXT PRIMARY KEY,
  form_key TEXT NOT NULL,
  form_version INTEGER NOT NULL,
  data TEXT NOT NULL,
  submitted_by INTEGER NOT NULL,
  process_instance_id TEXT NOT NULL DEFAULT '',
  step_id TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT UNIQUE,
  created_at TIMESTAMPTZ NOT NULL,
  FOREIGN KEY (form_key, form_version) REFERENCES forms (key, version)
);
CREATE INDEX form_submissions_form ON form_submissions (form_key, form_version);
CREATE INDEX form_submissions_instance ON form_submissions (process_instance_id) WHERE process_instance_id <> '';
