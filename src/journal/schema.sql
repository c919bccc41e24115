-- softdel journal, schema version 2. Installed by `softdel init`; every
-- statement is idempotent, so running it over version 1 upgrades it.
CREATE SCHEMA IF NOT EXISTS softdel;
COMMENT ON SCHEMA softdel IS 'softdel journal: every intercepted DELETE, with the row images';

CREATE TABLE IF NOT EXISTS softdel.version (
    version integer NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT now()
);

-- One row per intercepted operation.
CREATE TABLE IF NOT EXISTS softdel.operations (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    txid bigint NOT NULL DEFAULT txid_current(),
    db_user text NOT NULL DEFAULT session_user,
    application_name text NOT NULL DEFAULT current_setting('application_name'),
    database text NOT NULL DEFAULT current_database(),
    client_addr text,
    connection_id bigint,
    table_schema text NOT NULL,
    table_name text NOT NULL,
    -- soft_delete | journal_delete | delete | blocked | undelete | purge
    action text NOT NULL,
    row_count bigint NOT NULL,
    -- the statement as the client sent it; for undelete and purge, the command
    sql text NOT NULL,
    -- why a blocked operation was refused; what an undelete or purge covered
    reason text,
    -- soft_delete: the column the delete set (flag: false; timestamp: now())
    marker_kind text,
    marker_column text
);
-- Version 2.
ALTER TABLE softdel.operations ADD COLUMN IF NOT EXISTS marker_kind text;
ALTER TABLE softdel.operations ADD COLUMN IF NOT EXISTS marker_column text;
CREATE INDEX IF NOT EXISTS operations_at ON softdel.operations (at);
CREATE INDEX IF NOT EXISTS operations_txid ON softdel.operations (txid);
CREATE INDEX IF NOT EXISTS operations_table ON softdel.operations (table_schema, table_name, at);

-- The image of every row an operation soft-deleted or deleted.
CREATE TABLE IF NOT EXISTS softdel.rows (
    op_id bigint NOT NULL REFERENCES softdel.operations (id) ON DELETE CASCADE,
    image jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS rows_op ON softdel.rows (op_id);
-- Version 2: rows are numbered, and an undelete marks the rows it brought
-- back, so that running it again restores nothing twice.
ALTER TABLE softdel.rows ADD COLUMN IF NOT EXISTS id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE softdel.rows ADD COLUMN IF NOT EXISTS
    restored_by bigint REFERENCES softdel.operations (id) ON DELETE SET NULL;

-- Applications write the journal (in their own transactions) but cannot
-- read, change or delete it.
GRANT USAGE ON SCHEMA softdel TO PUBLIC;
GRANT INSERT ON softdel.operations, softdel.rows TO PUBLIC;
GRANT SELECT (id) ON softdel.operations TO PUBLIC;
GRANT USAGE ON SEQUENCE softdel.operations_id_seq TO PUBLIC;
