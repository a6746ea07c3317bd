-- Every filter the list offers has an index whose order is the list's order (id), so a page reads
-- only its own rows: no sort of all matches, no scan. (SQLite appends the rowid, id, to every index;
-- it is written out for the reader.) Partial indexes leave out the many tasks without the value.
CREATE INDEX tasks_user ON tasks (user_id, id);
CREATE INDEX tasks_status ON tasks (status, id);
DROP INDEX tasks_process_instance;
CREATE INDEX tasks_process_instance ON tasks (process_instance_id, id) WHERE process_instance_id <> '';
CREATE INDEX tasks_project ON tasks (project_id, id) WHERE project_id <> 0;
