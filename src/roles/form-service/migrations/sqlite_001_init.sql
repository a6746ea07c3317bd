-- Every published version of every form; a version never changes once written.
CREATE TABLE forms (
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  title TEXT NOT NULL,
  fields TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (key, version)
);

-- Validated submissions, tied to the version they were checked against.
CREATE TABLE submissions (
  id TEXT PRIMARY KEY,
  form_key TEXT NOT NULL,
  form_version INTEGER NOT NULL,
  data TEXT NOT NULL,
  submitted_by INTEGER NOT NULL,
  process_instance_id TEXT NOT NULL DEFAULT '',
  step_id TEXT NOT NULL DEFAULT '',
  idempotency_key TEXT UNIQUE,
  created_at TEXT NOT NULL,
  FOREIGN KEY (form_key, form_version) REFERENCES forms (key, version)
);
CREATE INDEX submissions_form ON submissions (form_key, form_version);
CREATE INDEX submissions_instance ON submissions (process_instance_id) WHERE process_instance_id <> '';
