-- The guard's shared functions, installed with the journal by `softdel
-- init` (CREATE OR REPLACE: every init brings them up to this softdel).
-- The per-table trigger functions `softdel init --rules` generates (see
-- src/guard/table.rs) call them. Everything that writes the journal runs
-- as the role that installed it (SECURITY DEFINER, fixed search_path), so
-- application roles need no rights on the journal.

-- The client's context, as the proxy sets it for one transaction with
-- set_config('softdel.context', ..., true) inside the statement it
-- rewrites (never for the session: a server connection behind a pooler is
-- shared by many clients):
--   softdel1 TAB connection_id TAB client_addr TAB txid TAB statement_key TAB sql
-- It holds only in the transaction `txid` (a value some client SET for
-- its whole session, which a pooler would pass on to the next client, is
-- ignored there), and the sql (the client's text, as it sent it) only in
-- the statement whose statement_timestamp() has the epoch statement_key.
-- Settings are not a security boundary: a client may set this itself and
-- claim to come through the proxy; it cannot keep its rows from the journal.

-- The context as an array when the proxy set it in this transaction,
-- NULL otherwise. (Plain SQL expressions: inlined into the guard's
-- statements, no function call at run time.)
CREATE OR REPLACE FUNCTION softdel.context() RETURNS text[]
LANGUAGE sql STABLE AS $softdel$
    SELECT CASE WHEN (string_to_array(nullif(current_setting('softdel.context', true), ''), E'\t'))[1] = 'softdel1'
                 AND (string_to_array(nullif(current_setting('softdel.context', true), ''), E'\t'))[4] = txid_current()::text
           THEN string_to_array(nullif(current_setting('softdel.context', true), ''), E'\t') END
$softdel$;

-- The statement to journal: the client's, as the proxy passed it for this
-- very statement, else what PostgreSQL says it runs. (VOLATILE as
-- current_query() is: a function more stable than its body is not
-- inlined.)
CREATE OR REPLACE FUNCTION softdel.statement(context text[]) RETURNS text
LANGUAGE sql VOLATILE AS $softdel$
    SELECT CASE WHEN context[5] = date_part('epoch', statement_timestamp())::text
           THEN array_to_string(context[6:], E'\t') ELSE coalesce(current_query(), '') END
$softdel$;

-- Whether the statement came through the proxy's rewrite of a DELETE (it
-- set the context for this very statement).
CREATE OR REPLACE FUNCTION softdel.proxied_statement() RETURNS boolean
LANGUAGE sql VOLATILE AS $softdel$
    SELECT coalesce((softdel.context())[5] = date_part('epoch', statement_timestamp())::text, false)
$softdel$;

-- The operation whose soft delete is cascading into the statement running
-- now: a soft parent's guard names it in `softdel.cascade` around its
-- UPDATE of the children. Only an operation of this very transaction
-- counts (a value a client set itself names nothing else).
CREATE OR REPLACE FUNCTION softdel.cascade_parent() RETURNS bigint
LANGUAGE sql VOLATILE AS $softdel$
    SELECT o.id FROM softdel.operations o
    WHERE o.id = CASE WHEN current_setting('softdel.cascade', true) ~ '^[0-9]{1,18}$'
                      THEN current_setting('softdel.cascade', true)::bigint END
      AND o.txid = txid_current()
$softdel$;

-- Raises the refusal `kind` for `row_count` rows of a table: the same
-- messages and SQLSTATEs as the proxy's own refusals, on every path.
CREATE OR REPLACE FUNCTION softdel.refuse(
    table_schema text, table_name text, kind text, row_count bigint,
    max_rows bigint, detail text
) RETURNS void
LANGUAGE plpgsql AS $softdel$
DECLARE
    t text := format('%I.%I', table_schema, table_name);
    rows text := CASE WHEN row_count = 1 THEN '1 row' ELSE row_count || ' rows' END;
BEGIN
    CASE kind
    WHEN 'block' THEN
        RAISE EXCEPTION USING ERRCODE = 'SD001', SCHEMA = table_schema, TABLE = table_name,
            MESSAGE = format('softdel: DELETE on table %s refused: the table is protected (on_delete: block) and the statement would remove %s; nothing was deleted', t, rows),
            HINT = format('Rows of %s may not be deleted. If this delete is intended, change the rule for %s in the rules file and run softdel init --rules again.', t, t);
    WHEN 'limit' THEN
        RAISE EXCEPTION USING ERRCODE = 'SD002', SCHEMA = table_schema, TABLE = table_name,
            MESSAGE = format('softdel: DELETE on table %s refused: it would remove %s, over the limit of %s; nothing was deleted', t, rows, max_rows),
            HINT = format('Delete at most %s rows per statement (in batches), or raise max_rows for %s in the rules file and run softdel init --rules again.', max_rows, t);
    WHEN 'mark_limit' THEN
        RAISE EXCEPTION USING ERRCODE = 'SD002', SCHEMA = table_schema, TABLE = table_name,
            MESSAGE = format('softdel: UPDATE on table %s refused: it would mark %s deleted, over the limit of %s; nothing was changed', t, rows, max_rows),
            HINT = format('Soft-delete at most %s rows per statement (in batches), or raise max_rows for %s in the rules file and run softdel init --rules again.', max_rows, t);
    WHEN 'outside_proxy' THEN
        RAISE EXCEPTION USING ERRCODE = 'SD001', SCHEMA = table_schema, TABLE = table_name,
            MESSAGE = format('softdel: DELETE on table %s refused: rows of this soft table are only soft-deleted, through softdel (outside_proxy: refuse), and the statement would remove %s; nothing was deleted', t, rows),
            HINT = format('Delete them through softdel, or mark them deleted with an UPDATE of the marker column; or change outside_proxy for %s in the rules file and run softdel init --rules again.', t);
    WHEN 'cascade' THEN
        -- detail: the foreign key, then the parent table
        RAISE EXCEPTION USING ERRCODE = 'SD001', SCHEMA = table_schema, TABLE = table_name,
            CONSTRAINT = split_part(detail, E'\t', 1),
            MESSAGE = format('softdel: DELETE on table %s refused: foreign key %s cascades a delete of %s into it, and softdel does not journal %s, so the %s could not be brought back; nothing was deleted',
                             t, split_part(detail, E'\t', 1), split_part(detail, E'\t', 2), split_part(detail, E'\t', 2), rows),
            HINT = format('Protect %s in the rules file (on_delete: journal or soft) and run softdel init --rules again, or delete the rows of %s first.', split_part(detail, E'\t', 2), t);
    ELSE
        RAISE EXCEPTION 'softdel: unknown refusal %', kind;
    END CASE;
END
$softdel$;

-- TRUNCATE fires no DELETE trigger: it is refused on every protected table.
CREATE OR REPLACE FUNCTION softdel.refuse_truncate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $softdel$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'SD003', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
        MESSAGE = format('softdel: TRUNCATE of table %I.%I refused: the table is protected; nothing was deleted', TG_TABLE_SCHEMA, TG_TABLE_NAME),
        HINT = format('Use DELETE, which softdel makes recoverable, or take %I.%I out of the rules file and run softdel init --rules again.', TG_TABLE_SCHEMA, TG_TABLE_NAME);
END
$softdel$;

-- Called by the proxy inside every DELETE it sends on a table its rules
-- protect: fails (SD005) unless the guard is there to journal or refuse
-- it, so that a proxy whose rules were never installed does not let
-- deletes through unjournaled.
-- (No SET search_path: it runs once per such statement, and names only
-- pg_catalog's objects, which come first unless a session says otherwise.)
CREATE OR REPLACE FUNCTION softdel.proxy_check(target regclass, trigger_name name) RETURNS boolean
LANGUAGE plpgsql AS $softdel$
DECLARE
    qualified text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t
                   WHERE t.tgrelid = target AND t.tgname = trigger_name AND t.tgenabled = 'A') THEN
        SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO qualified
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = target;
        RAISE EXCEPTION USING ERRCODE = 'SD005',
            MESSAGE = pg_catalog.format('softdel: table %s is protected by the rules, but this database has no softdel guard on it; nothing was changed', qualified),
            HINT = 'Install the guard as the tables'' owner: softdel init --database-url URL --rules FILE (softdel check shows what is missing).';
    END IF;
    RETURN true;
END
$softdel$;

-- The operator's own commands, for the rest of their transaction:
-- `allow('purge')` (softdel purge removes rows soft-deleted long ago: the
-- guard journals only what else such a DELETE removes, live rows through
-- cascades), `allow('restore')` (softdel undelete and undo change rows
-- back, and journal that themselves: the guard journals no update of
-- theirs) and `allow('install')` (softdel init changes the guard, which
-- the event triggers otherwise refuse). Only the journal's owner may call
-- it; the guard checks the token it sets against softdel.secret.
CREATE OR REPLACE FUNCTION softdel.allow(what text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $softdel$
    SELECT set_config('softdel.allow_' || what, (SELECT token FROM softdel.secret LIMIT 1), true)
$softdel$;

CREATE OR REPLACE FUNCTION softdel.allowed(what text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $softdel$
    SELECT coalesce(current_setting('softdel.allow_' || what, true)
                    = (SELECT token FROM softdel.secret LIMIT 1), false)
$softdel$;

-- The proxy's record of a refused statement (`--journal-url`): the only
-- thing its role may write (`softdel init --recorder ROLE` grants it).
CREATE OR REPLACE FUNCTION softdel.record_refusal(
    at timestamptz, db_user text, application_name text, database text, client_addr text,
    connection_id bigint, table_name text, sql text, reason text
) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $softdel$
    INSERT INTO softdel.operations (at, db_user, application_name, database, client_addr,
        connection_id, path, table_schema, table_name, action, row_count, sql, reason)
    VALUES (at, db_user, application_name, database, client_addr, connection_id, 'proxy', '',
            table_name, 'blocked', 0, sql, reason)
    RETURNING id
$softdel$;

-- Version 6: the proxy's record of a statement it let through under an
-- observed rule (`mode: observe`) and would have refused (one it cannot
-- analyse, a DELETE over an allowed table's row limit).
CREATE OR REPLACE FUNCTION softdel.record_would_refuse(
    at timestamptz, db_user text, application_name text, database text, client_addr text,
    connection_id bigint, table_name text, sql text, reason text
) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $softdel$
    INSERT INTO softdel.operations (at, db_user, application_name, database, client_addr,
        connection_id, path, table_schema, table_name, action, row_count, sql, reason)
    VALUES (at, db_user, application_name, database, client_addr, connection_id, 'proxy', '',
            table_name, 'would_refuse', 0, sql, reason)
    RETURNING id
$softdel$;

-- Only the guard's own triggers may call these; the proxy calls proxy_check.
REVOKE ALL ON FUNCTION softdel.refuse(text, text, text, bigint, bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION softdel.allow(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION softdel.allowed(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION softdel.record_refusal(timestamptz, text, text, text, text, bigint, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION softdel.record_would_refuse(timestamptz, text, text, text, text, bigint, text, text, text) FROM PUBLIC;
-- Version 6: the roles that may record refusals (granted by an earlier
-- `softdel init --recorder`) may record what observe mode would have
-- refused too.
DO $softdel$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT DISTINCT a.grantee::regrole AS role
        FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
        WHERE p.oid = 'softdel.record_refusal(timestamptz, text, text, text, text, bigint, text, text, text)'::regprocedure
          AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION softdel.record_would_refuse(timestamptz, text, text, text, text, bigint, text, text, text) TO %s', r.role);
    END LOOP;
END
$softdel$;
GRANT EXECUTE ON FUNCTION softdel.proxy_check(regclass, name) TO PUBLIC;
GRANT EXECUTE ON FUNCTION softdel.proxied_statement() TO PUBLIC;
