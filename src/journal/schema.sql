-- softdel journal, schema version 6. Installed by `softdel init`; every
-- statement is idempotent, so running it over an earlier version upgrades it
-- (every operation journaled before stays restorable: columns are only
-- added). Later versions' additions are marked with their version.
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
    -- soft_delete | journal_delete | hard_delete | delete | blocked | undelete | purge
    -- | update | undo (version 5) | would_soft_delete | would_refuse (version 6)
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
    op_id bigint NOT NULL,
    image jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS rows_op ON softdel.rows (op_id);
-- Version 2: rows are numbered, and an undelete marks the rows it brought
-- back, so that running it again restores nothing twice.
ALTER TABLE softdel.rows ADD COLUMN IF NOT EXISTS id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE softdel.rows ADD COLUMN IF NOT EXISTS restored_by bigint;

-- Version 3: the journal's rows are written by softdel alone (the guard's
-- functions, the operator's commands), which keep op_id and restored_by
-- right themselves: no foreign key checked at every row image (for a
-- 10,000-row delete, 20,000 checks). `softdel purge` removes an
-- operation's images itself.
ALTER TABLE softdel.rows DROP CONSTRAINT IF EXISTS rows_op_id_fkey;
ALTER TABLE softdel.rows DROP CONSTRAINT IF EXISTS rows_restored_by_fkey;

-- Version 3: the guard writes the journal (its trigger functions run as
-- the role that installed it), and says which way the statement came.
-- proxy | direct; NULL for the operator's own commands (undelete, purge).
ALTER TABLE softdel.operations ADD COLUMN IF NOT EXISTS path text;

-- Version 4: a soft delete that an ON DELETE CASCADE foreign key carried
-- from a soft parent to a soft child names the parent's operation, so
-- that undeleting the parent brings back exactly the children it took.
ALTER TABLE softdel.operations ADD COLUMN IF NOT EXISTS cascaded_from bigint;
CREATE INDEX IF NOT EXISTS operations_cascaded_from ON softdel.operations (cascaded_from)
    WHERE cascaded_from IS NOT NULL;

-- Version 5: an `update` operation's rows are not row images but
-- {"key": {primary key, as the row is now}, "before": {column: value},
-- "after": {column: value}}, with only the columns the statement changed;
-- `softdel undo` reverts them column by column and marks them restored_by.

-- The tables the guard protects, as `softdel init --rules` installed it
-- (by oid: a renamed table keeps its guard). `definition` is the SQL that
-- was installed, so that a later run (and `softdel check`) can tell what
-- changed.
CREATE TABLE IF NOT EXISTS softdel.guarded (
    relid oid PRIMARY KEY,
    table_schema text NOT NULL,
    table_name text NOT NULL,
    -- soft | journal | block
    mode text NOT NULL,
    marker_kind text,
    marker_column text,
    max_rows bigint,
    -- soft tables: journal | refuse
    outside_proxy text,
    -- journal: updates are journaled (version 5; NULL: not)
    on_update text,
    -- where the rule came from: file:line
    rule text NOT NULL,
    definition text NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT now()
);

-- Version 5.
ALTER TABLE softdel.guarded ADD COLUMN IF NOT EXISTS on_update text;
-- Version 6: the rule is only observed (`mode: observe`): the guard
-- refuses nothing, and journals what it would have refused as
-- `would_refuse` (a DROP of the table included, see the DDL guard).
ALTER TABLE softdel.guarded ADD COLUMN IF NOT EXISTS observe boolean NOT NULL DEFAULT false;

-- A random token only the journal's owner can read: `softdel purge` shows
-- it to the guard (a setting any client could otherwise forge) so that
-- removing rows soft-deleted long ago is not journaled as a new delete.
CREATE TABLE IF NOT EXISTS softdel.secret (token text NOT NULL);
INSERT INTO softdel.secret (token)
    SELECT pg_catalog.gen_random_uuid()::text WHERE NOT EXISTS (SELECT FROM softdel.secret);

-- A row-limit check inside a client's own data-modifying CTE needs a
-- statement that always runs: an INSERT here, which never inserts a row
-- (it either finds the count within the limit and selects nothing, or
-- fails with the refusal). The CHECK makes sure nothing else can either.
CREATE TABLE IF NOT EXISTS softdel.row_limit (n bigint CHECK (false));

-- Applications need no rights on the journal: the guard's functions write
-- it. Nobody but its owner may read, write or erase it.
REVOKE ALL ON ALL TABLES IN SCHEMA softdel FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA softdel FROM PUBLIC;
GRANT USAGE ON SCHEMA softdel TO PUBLIC;
GRANT INSERT ON softdel.row_limit TO PUBLIC;
