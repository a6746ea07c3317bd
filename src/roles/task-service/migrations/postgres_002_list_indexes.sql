-- Same as sqlite_002_list_indexes.sql: every list filter has an index in id order, so a page
-- reads only its own rows. Plain CREATE INDEX (migrations run in a transaction): writes to tasks
-- wait while it builds — about a second per million rows here.
CREATE INDEX tasks_user ON tasks (user_id, id);
CREATE INDEX tasks_status ON tasks (status, id);
DROP INDEX tasks_process_instance;
CREATE INDEX tasks_process_instance ON tasks (process_instance_id, id) WHERE process_instance_id <> '';
CREATE INDEX tasks_project ON tasks (project_id, id) WHERE project_id <> 0;
