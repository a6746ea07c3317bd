-- Instances are listed newest first by id COLLATE "C" (UUIDv7 in byte order; under a linguistic
-- collation the dashes would not count). The first indexes ordered id by the database's collation,
-- which cannot give that order, so every list sorted all its matches. These give it for each filter.
CREATE INDEX process_instances_id_c ON process_instances ((id COLLATE "C"));
DROP INDEX process_instances_definition;
CREATE INDEX process_instances_definition ON process_instances (definition_key, (id COLLATE "C"));
DROP INDEX process_instances_status;
CREATE INDEX process_instances_status ON process_instances (status, (id COLLATE "C"));
DROP INDEX process_instances_assignee;
CREATE INDEX process_instances_assignee ON process_instances (current_assignee, (id COLLATE "C")) WHERE current_assignee IS NOT NULL;
DROP INDEX process_instances_started_by;
CREATE INDEX process_instances_started_by ON process_instances (started_by, (id COLLATE "C"));
