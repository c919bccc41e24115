-- softdel journal, schema version 1. Installed by `softdel init`; every
-- statement is idempotent.
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
    -- soft_delete | journal_delete | delete | blocked
    action text NOT NULL,
    row_count bigint NOT NULL,
    sql text NOT NULL,
    -- why a blocked operation was refused
    reason text
);
CREATE INDEX IF NOT EXISTS operations_at ON softdel.operations (at);
CREATE INDEX IF NOT EXISTS operations_txid ON softdel.operations (txid);
CREATE INDEX IF NOT EXISTS operations_table ON softdel.operations (table_schema, table_name, at);

-- The image of every row an operation soft-deleted or deleted.
CREATE TABLE IF NOT EXISTS softdel.rows (
    op_id bigint NOT NULL REFERENCES softdel.operations (id) ON DELETE CASCADE,
    image jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS rows_op ON softdel.rows (op_id);

-- Applications write the journal (in their own transactions) but cannot
-- read, change or delete it.
GRANT USAGE ON SCHEMA softdel TO PUBLIC;
GRANT INSERT ON softdel.operations, softdel.rows TO PUBLIC;
GRANT SELECT (id) ON softdel.operations TO PUBLIC;
GRANT USAGE ON SEQUENCE softdel.operations_id_seq TO PUBLIC;
