-- The DDL guard: event triggers that refuse what would take the guard or
-- the journal away (DROP of a protected table, of its schema, of its marker
-- column, of the guard's triggers, of the journal; ALTER TABLE ... DISABLE
-- TRIGGER). Event triggers need a superuser: `softdel init --rules` installs
-- this when it runs as one.
--
-- Their functions live in a schema of their own: an event trigger whose
-- function is dropped in the same command does not fire, so with them in
-- schema softdel, DROP SCHEMA softdel CASCADE would take them along
-- silently. Removing the DDL guard takes a deliberate
-- DROP SCHEMA softdel_ddl CASCADE (or DROP EVENT TRIGGER) first.
CREATE SCHEMA IF NOT EXISTS softdel_ddl;
REVOKE ALL ON SCHEMA softdel_ddl FROM PUBLIC;

-- Dropping a protected table, its schema, its marker column, the guard's
-- triggers, or anything of the journal is refused.
CREATE OR REPLACE FUNCTION softdel_ddl.on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $softdel$
DECLARE
    d record;
    g record;
    hint text := 'To drop it on purpose, take the table out of the rules file and run softdel init --rules again.';
BEGIN
    -- The journal itself (its schema, tables, the guard's functions): the
    -- record of every operation, and what the guard runs on.
    SELECT * INTO d FROM pg_event_trigger_dropped_objects() x
    WHERE x.schema_name = 'softdel' OR (x.object_type = 'schema' AND x.object_name = 'softdel')
    ORDER BY x.object_type = 'schema' DESC
    LIMIT 1;
    IF FOUND THEN
        -- (Nested: the condition naming softdel.allowed must not even be
        -- planned when that schema is what is being dropped.)
        IF d.object_type <> 'schema' THEN
            IF softdel.allowed('install') THEN
                RETURN;
            END IF;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'SD003',
            MESSAGE = format('softdel: dropping %s %s refused: it is part of the softdel journal and guard; nothing was dropped', d.object_type, d.object_identity),
            HINT = 'To remove softdel on purpose, as a superuser: DROP SCHEMA softdel_ddl CASCADE (the DDL guard), then DROP SCHEMA softdel CASCADE (the guard and the journal with it).';
    END IF;
    -- Without the journal there is nothing to guard (it was removed on
    -- purpose, see above): DDL goes on as usual.
    IF to_regclass('softdel.guarded') IS NULL THEN
        RETURN;
    END IF;
    IF softdel.allowed('install') THEN
        RETURN;
    END IF;
    FOR d IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
        IF d.classid = 'pg_class'::regclass THEN
            SELECT * INTO g FROM softdel.guarded WHERE relid = d.objid;
            CONTINUE WHEN NOT FOUND;
            -- An observed rule (mode: observe) lets the table go: the drop
            -- is journaled as one softdel would have refused. Its rows
            -- cannot be kept (they are gone when this trigger runs). Its
            -- entry in softdel.guarded stays, so that the next softdel
            -- init removes the guard's functions (softdel check says so).
            -- Its marker column stays guarded: the guard's functions read it.
            IF g.observe AND d.objsubid = 0 THEN
                INSERT INTO softdel.operations (path, client_addr, table_schema, table_name,
                                                action, row_count, sql, reason)
                VALUES ('direct', coalesce(host(inet_client_addr()), 'local'), g.table_schema,
                        g.table_name, 'would_refuse', 0, current_query(),
                        'drop: the table was dropped; its rows were not kept');
                CONTINUE;
            END IF;
            IF d.objsubid = 0 THEN
                RAISE EXCEPTION USING ERRCODE = 'SD003', SCHEMA = g.table_schema, TABLE = g.table_name,
                    MESSAGE = format('softdel: DROP of table %s refused: the table is protected; nothing was dropped', d.object_identity),
                    HINT = hint;
            ELSIF d.address_names[3] = g.marker_column THEN
                RAISE EXCEPTION USING ERRCODE = 'SD003', SCHEMA = g.table_schema, TABLE = g.table_name,
                    COLUMN = g.marker_column,
                    MESSAGE = format('softdel: dropping column %s refused: it marks the soft-deleted rows of a protected table; nothing was dropped', d.object_identity),
                    HINT = hint;
            END IF;
        -- (A trigger dropped along with its table is the table's business,
        -- decided above.)
        ELSIF d.classid = 'pg_trigger'::regclass AND d.original
              AND d.address_names[3] LIKE 'softdel\_guard\_%' THEN
            RAISE EXCEPTION USING ERRCODE = 'SD003',
                MESSAGE = format('softdel: dropping %s refused: it is the softdel guard of a protected table; nothing was dropped', d.object_identity),
                HINT = hint;
        END IF;
    END LOOP;
END
$softdel$;

-- After any DDL command: every guarded table still has its triggers (as
-- src/guard/table.rs trigger_names lists them), enabled ALWAYS, and its marker column (ALTER TABLE ... DISABLE TRIGGER,
-- ALTER TRIGGER ... RENAME, RENAME COLUMN are refused).
CREATE OR REPLACE FUNCTION softdel_ddl.on_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $softdel$
DECLARE
    broken record;
BEGIN
    IF to_regclass('softdel.guarded') IS NULL THEN
        RETURN;
    END IF;
    IF softdel.allowed('install') THEN
        RETURN;
    END IF;
    SELECT g.table_schema, g.table_name, c.relname AS now_named, e.what INTO broken
    FROM softdel.guarded g
    JOIN pg_class c ON c.oid = g.relid
    CROSS JOIN LATERAL (
        SELECT format('its trigger %s', t.name) AS what
        FROM unnest(CASE WHEN g.mode = 'allow' THEN ARRAY['softdel_guard_update']
                         WHEN g.mode = 'soft' OR g.on_update IS NOT NULL
                         THEN ARRAY['softdel_guard_delete', 'softdel_guard_update', 'softdel_guard_truncate']
                         ELSE ARRAY['softdel_guard_delete', 'softdel_guard_truncate'] END) AS t(name)
        WHERE NOT EXISTS (SELECT FROM pg_trigger p
                          WHERE p.tgrelid = g.relid AND p.tgname = t.name AND p.tgenabled = 'A')
        UNION ALL
        SELECT format('its marker column %s', g.marker_column)
        WHERE g.marker_column IS NOT NULL
          AND NOT EXISTS (SELECT FROM pg_attribute a
                          WHERE a.attrelid = g.relid AND a.attname = g.marker_column AND NOT a.attisdropped)
    ) e
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'SD003', SCHEMA = broken.table_schema, TABLE = broken.now_named,
            MESSAGE = format('softdel: this command would leave protected table %I.%I without %s (disabled, renamed or dropped); nothing was changed',
                             broken.table_schema, broken.now_named, broken.what),
            HINT = 'To change a protected table''s guard, change its rule in the rules file and run softdel init --rules again.';
    END IF;
END
$softdel$;

REVOKE ALL ON FUNCTION softdel_ddl.on_sql_drop() FROM PUBLIC;
REVOKE ALL ON FUNCTION softdel_ddl.on_ddl_end() FROM PUBLIC;

DO $softdel$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname = 'softdel_guard_drop') THEN
        CREATE EVENT TRIGGER softdel_guard_drop ON sql_drop EXECUTE FUNCTION softdel_ddl.on_sql_drop();
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname = 'softdel_guard_ddl') THEN
        CREATE EVENT TRIGGER softdel_guard_ddl ON ddl_command_end EXECUTE FUNCTION softdel_ddl.on_ddl_end();
    END IF;
END
$softdel$;
-- They fire under session_replication_role = replica too.
ALTER EVENT TRIGGER softdel_guard_drop ENABLE ALWAYS;
ALTER EVENT TRIGGER softdel_guard_ddl ENABLE ALWAYS;
