#!/usr/bin/env python3
"""Smoke test of a PostgreSQL server (or a proxy in front of one) with psycopg 3.

Usage: .venv/bin/python tests/clients/psycopg_smoke.py postgres://user[:pw]@host:port/db

Each check prints "ok - <what>" to stdout. The first failure prints
"not ok - <what>: <error>" to stderr and exits with status 1. When every
check passed it prints "psycopg: N checks passed" and exits 0. A watchdog
turns any hang into a failure after WATCHDOG_SECONDS (60, or
$SMOKE_WATCHDOG_SECONDS). Set SMOKE_TRACEBACK=1 for a traceback on failure.

Everything it creates is a temporary table, so nothing is left behind.
"""

import os
import sys
import threading
import time
import traceback

WATCHDOG_SECONDS = float(os.environ.get("SMOKE_WATCHDOG_SECONDS", "60"))
CONNECT_TIMEOUT = 10  # seconds, per connection attempt
STATEMENT_TIMEOUT_MS = 15000  # server side, sent as a startup option

_checks_passed = 0
_current = "startup"


def _fail(what, err):
    sys.stdout.flush()
    sys.stderr.write(f"not ok - {what}: {err}\n")
    sys.stderr.flush()
    os._exit(1)


def _watchdog():
    _fail(_current, f"watchdog: no result after {WATCHDOG_SECONDS}s (hang?)")


class check:
    """Context manager: one named check; an exception inside is a failure."""

    def __init__(self, what):
        self.what = what

    def __enter__(self):
        global _current
        _current = self.what
        return self

    def __exit__(self, etype, exc, tb):
        global _checks_passed
        if exc is None:
            _checks_passed += 1
            print(f"ok - {self.what}", flush=True)
            return False
        detail = f"{etype.__name__}: {exc}".strip()
        sqlstate = getattr(exc, "sqlstate", None)
        if sqlstate:
            detail += f" (SQLSTATE {sqlstate})"
        if os.environ.get("SMOKE_TRACEBACK"):
            traceback.print_exception(etype, exc, tb, file=sys.stderr)
        _fail(self.what, detail)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_eq(got, want, what="value"):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def expect_error(exc_type, sqlstate, fn):
    """Runs fn, which must raise exc_type carrying sqlstate; returns the error."""
    try:
        fn()
    except exc_type as e:
        expect_eq(e.sqlstate, sqlstate, "SQLSTATE")
        return e
    except Exception as e:  # wrong kind of error
        raise AssertionError(
            f"expected {exc_type.__name__} ({sqlstate}), got "
            f"{type(e).__name__}: {e} (SQLSTATE {getattr(e, 'sqlstate', None)})"
        ) from e
    raise AssertionError(f"expected {exc_type.__name__} ({sqlstate}), got no error")


def main():
    global _current
    if len(sys.argv) != 2:
        sys.stderr.write(f"usage: {sys.argv[0]} POSTGRES_URL\n")
        sys.exit(2)
    url = sys.argv[1]

    timer = threading.Timer(WATCHDOG_SECONDS, _watchdog)
    timer.daemon = True
    timer.start()

    with check("import psycopg"):
        import psycopg
        from psycopg import errors, pq
        from psycopg.rows import dict_row

    def connect(**kw):
        params = dict(
            connect_timeout=CONNECT_TIMEOUT,
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
            autocommit=True,
        )
        params.update(kw)
        return psycopg.connect(url, **params)

    TS = pq.TransactionStatus

    # ------------------------------------------------------------------ basics
    with check("connect"):
        conn = connect(application_name="psycopg-smoke")
        expect_eq(conn.info.status, pq.ConnStatus.OK, "connection status")
        expect_eq(conn.info.transaction_status, TS.IDLE, "transaction status")

    with check("startup parameter application_name reaches the server"):
        expect_eq(conn.execute("SHOW application_name").fetchone()[0], "psycopg-smoke")
        expect_eq(
            conn.execute("SHOW statement_timeout").fetchone()[0],
            f"{STATEMENT_TIMEOUT_MS // 1000}s",
            "statement_timeout from startup options",
        )

    with check("server_version"):
        ver = conn.info.server_version
        expect(ver >= 100000, f"server_version {ver} looks wrong")
        shown = conn.execute("SHOW server_version").fetchone()[0]
        expect_eq(conn.info.parameter_status("server_version"), shown,
                  "ParameterStatus server_version vs SHOW")
        expect(shown.startswith(str(ver // 10000)), f"SHOW {shown!r} vs {ver}")
        expect_eq(conn.info.parameter_status("client_encoding"), "UTF8", "client_encoding")

    with check("backend pid matches pg_backend_pid()"):
        expect_eq(conn.execute("SELECT pg_backend_pid()").fetchone()[0],
                  conn.info.backend_pid, "pid")

    with check("SELECT constants"):
        expect_eq(conn.execute("SELECT 1").fetchone(), (1,))
        from decimal import Decimal
        row = conn.execute(
            "SELECT 'hello'::text, 42::int8, true, NULL::int, 1.5::numeric, ''::text"
        ).fetchone()
        expect_eq(row, ("hello", 42, True, None, Decimal("1.5"), ""))

    with check("column names in RowDescription"):
        cur = conn.execute("SELECT 1 AS one, 'x' AS \"Two Words\"")
        expect_eq([d.name for d in cur.description], ["one", "Two Words"])
        expect_eq(conn.cursor(row_factory=dict_row).execute("SELECT 1 AS one").fetchone(),
                  {"one": 1})

    # ------------------------------------------------------------- parameters
    with check("parameterized int query"):
        expect_eq(conn.execute("SELECT %s::int + %s::int", (2, 40)).fetchone(), (42,))

    tricky = [
        "it's \"quoted\"",
        "back\\slash and 'single' and \"double\" ; -- not a comment",
        "héllo wörld ✓ 日本語 🐘",
        "",
        "$1 %s ? :name",
    ]
    with check("parameterized text with quotes and unicode"):
        for s in tricky:
            row = conn.execute("SELECT %s::text, length(%s::text)", (s, s)).fetchone()
            expect_eq(row, (s, len(s)), f"round trip of {s!r}")

    with check("NULL parameter"):
        expect_eq(conn.execute("SELECT %s::int IS NULL, %s::text", (None, None)).fetchone(),
                  (True, None))

    with check("binary parameters and results"):
        row = conn.execute(
            "SELECT %b::int8, %b::text, %b::bytea, %b::bool",
            (2**40 + 7, "bïnary ✓", b"\x00\x01\xff\x00", False),
            binary=True,
        ).fetchone()
        expect_eq(row, (2**40 + 7, "bïnary ✓", b"\x00\x01\xff\x00", False))

    with check("NOTICE delivered to notice handler"):
        notices = []
        conn.add_notice_handler(lambda d: notices.append(d.message_primary))
        conn.execute("DO $$ BEGIN RAISE NOTICE 'smoke notice %', 42; END $$")
        expect_eq(notices, ["smoke notice 42"], "notices")

    with check("SET updates ParameterStatus"):
        conn.execute("SET application_name = 'psycopg-smoke-2'")
        expect_eq(conn.info.parameter_status("application_name"), "psycopg-smoke-2")

    # ----------------------------------------------------------- transactions
    with check("create temp table"):
        cur = conn.execute(
            "CREATE TEMP TABLE smoke_items (id int PRIMARY KEY, name text NOT NULL)"
        )
        expect_eq(cur.statusmessage, "CREATE TABLE", "command tag")

    def names():
        return [r[0] for r in conn.execute("SELECT name FROM smoke_items ORDER BY id")]

    with check("BEGIN / INSERT with params / COMMIT: rows visible"):
        conn.execute("BEGIN")
        expect_eq(conn.info.transaction_status, TS.INTRANS, "status after BEGIN")
        for i, n in [(1, "one"), (2, "twö 'two'")]:
            cur = conn.execute("INSERT INTO smoke_items (id, name) VALUES (%s, %s)", (i, n))
            expect_eq(cur.rowcount, 1, "rowcount")
            expect_eq(cur.statusmessage, "INSERT 0 1", "command tag")
        conn.execute("COMMIT")
        expect_eq(conn.info.transaction_status, TS.IDLE, "status after COMMIT")
        expect_eq(names(), ["one", "twö 'two'"])

    with check("BEGIN / INSERT / ROLLBACK: rows not visible"):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO smoke_items (id, name) VALUES (%s, %s)", (3, "three"))
        expect_eq(len(names()), 3, "row count inside the transaction")
        conn.execute("ROLLBACK")
        expect_eq(conn.info.transaction_status, TS.IDLE, "status after ROLLBACK")
        expect_eq(names(), ["one", "twö 'two'"])

    with check("UPDATE / DELETE row counts and command tags"):
        cur = conn.execute("UPDATE smoke_items SET name = %s WHERE id = %s", ("uno", 1))
        expect_eq((cur.rowcount, cur.statusmessage), (1, "UPDATE 1"), "update")
        conn.execute("INSERT INTO smoke_items VALUES (10, 'ten'), (11, 'eleven')")
        cur = conn.execute("DELETE FROM smoke_items WHERE id = %s", (10,))
        expect_eq((cur.rowcount, cur.statusmessage), (1, "DELETE 1"), "delete")
        cur = conn.execute("DELETE FROM smoke_items WHERE id = %s RETURNING name", (11,))
        expect_eq(cur.fetchall(), [("eleven",)], "delete returning")
        expect_eq(cur.statusmessage, "DELETE 1", "delete returning tag")
        cur = conn.execute("DELETE FROM smoke_items WHERE id = %s", (12345,))
        expect_eq((cur.rowcount, cur.statusmessage), (0, "DELETE 0"), "delete nothing")
        expect_eq(names(), ["uno", "twö 'two'"])

    with check("transaction() block with a rolled-back savepoint"):
        with conn.transaction():
            conn.execute("INSERT INTO smoke_items VALUES (%s, %s)", (20, "kept"))
            with conn.transaction():
                conn.execute("INSERT INTO smoke_items VALUES (%s, %s)", (21, "dropped"))
                raise psycopg.Rollback()
        expect_eq(names(), ["uno", "twö 'two'", "kept"])

    # ----------------------------------------------------------------- errors
    with check("division by zero reports SQLSTATE 22012"):
        e = expect_error(errors.DivisionByZero, "22012", lambda: conn.execute("SELECT 1/0"))
        expect_eq(e.diag.message_primary, "division by zero", "message")
        expect_eq(e.diag.severity_nonlocalized, "ERROR", "severity")

    with check("connection usable after error"):
        expect_eq(conn.info.transaction_status, TS.IDLE, "transaction status")
        expect_eq(conn.execute("SELECT 2").fetchone(), (2,))

    with check("error in extended protocol (params) reports 22012, then usable"):
        expect_error(errors.DivisionByZero, "22012",
                     lambda: conn.execute("SELECT %s::int / %s::int", (1, 0)))
        expect_eq(conn.execute("SELECT %s::int / %s::int", (9, 3)).fetchone(), (3,))

    with check("unique violation reports SQLSTATE 23505"):
        e = expect_error(
            errors.UniqueViolation, "23505",
            lambda: conn.execute("INSERT INTO smoke_items VALUES (%s, %s)", (1, "dup")),
        )
        expect_eq(e.diag.constraint_name, "smoke_items_pkey", "constraint name")
        expect_eq(e.diag.table_name, "smoke_items", "table name")
        expect_eq(conn.execute("SELECT count(*) FROM smoke_items").fetchone(), (3,))

    with check("syntax error reports SQLSTATE 42601, then usable"):
        expect_error(errors.SyntaxError, "42601", lambda: conn.execute("SELEC 1"))
        expect_error(errors.UndefinedTable, "42P01",
                     lambda: conn.execute("SELECT * FROM smoke_no_such_table"))
        expect_eq(conn.execute("SELECT 3").fetchone(), (3,))

    with check("error inside transaction: 25P02 until ROLLBACK"):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO smoke_items VALUES (%s, %s)", (30, "lost"))
        expect_error(errors.DivisionByZero, "22012", lambda: conn.execute("SELECT 1/0"))
        expect_eq(conn.info.transaction_status, TS.INERROR, "status after error")
        expect_error(errors.InFailedSqlTransaction, "25P02", lambda: conn.execute("SELECT 1"))
        expect_error(errors.InFailedSqlTransaction, "25P02",
                     lambda: conn.execute("SELECT %s::int", (1,)))
        expect_eq(conn.info.transaction_status, TS.INERROR, "status still failed")
        conn.execute("ROLLBACK")
        expect_eq(conn.info.transaction_status, TS.IDLE, "status after ROLLBACK")
        expect_eq(conn.execute("SELECT 4").fetchone(), (4,))
        expect_eq(conn.execute("SELECT count(*) FROM smoke_items WHERE id = 30").fetchone(), (0,))

    with check("query cancel (CancelRequest) reports 57014, then usable"):
        canceller = connect()
        pid = conn.info.backend_pid
        cancel_err = []

        def cancel_when_running():
            try:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    active = canceller.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
                        " AND state = 'active' AND query LIKE 'SELECT pg_sleep%%'",
                        (pid,),
                    ).fetchone()[0]
                    if active:
                        conn.cancel_safe(timeout=5)
                        return
                    time.sleep(0.05)
                cancel_err.append("the pg_sleep query never became active")
            except Exception as e:  # reported by the main thread
                cancel_err.append(f"{type(e).__name__}: {e}")

        t = threading.Thread(target=cancel_when_running, daemon=True)
        started = time.monotonic()
        t.start()
        e = expect_error(errors.QueryCanceled, "57014",
                         lambda: conn.execute("SELECT pg_sleep(8)"))
        t.join(5)
        expect(not cancel_err, f"canceller: {cancel_err}")
        expect("user request" in (e.diag.message_primary or ""),
               f"cancelled by something else: {e.diag.message_primary!r}")
        expect(time.monotonic() - started < 7, "cancel took too long")
        canceller.close()
        expect_eq(conn.execute("SELECT 5").fetchone(), (5,))

    # ---------------------------------------------------- prepared statements
    def prepared_count(fragment):
        return conn.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            (f"%{fragment}%",),
        ).fetchone()[0]

    with check("server-side prepared statement reused 20 times (prepare=True)"):
        for i in range(20):
            row = conn.execute("SELECT %s::int * 2 AS doubled", (i,), prepare=True).fetchone()
            expect_eq(row, (i * 2,), f"iteration {i}")
        expect_eq(prepared_count("$1::int * 2 AS doubled"), 1, "pg_prepared_statements")

    with check("automatic prepare after prepare_threshold"):
        expect_eq(conn.prepare_threshold, 5, "prepare_threshold")
        for i in range(12):
            row = conn.execute("SELECT %s::text || '-auto'", (str(i),)).fetchone()
            expect_eq(row, (f"{i}-auto",), f"iteration {i}")
        expect_eq(prepared_count("$1::text || '-auto'"), 1, "pg_prepared_statements")

    with check("prepared statement with an error, then reused"):
        for d in (1, 0, 2):
            if d == 0:
                expect_error(errors.DivisionByZero, "22012",
                             lambda: conn.execute("SELECT 10 / %s::int", (d,), prepare=True))
            else:
                row = conn.execute("SELECT 10 / %s::int", (d,), prepare=True).fetchone()
                expect_eq(row, (10 // d,))

    with check("executemany"):
        conn.execute("CREATE TEMP TABLE smoke_many (id int PRIMARY KEY, val text)")
        cur = conn.cursor()
        cur.executemany("INSERT INTO smoke_many (id, val) VALUES (%s, %s)",
                        [(i, f"v{i}") for i in range(1, 101)])
        expect_eq(cur.rowcount, 100, "rowcount")
        expect_eq(conn.execute("SELECT count(*), sum(id) FROM smoke_many").fetchone(),
                  (100, 5050))

    with check("executemany with RETURNING"):
        cur = conn.cursor()
        cur.executemany("INSERT INTO smoke_many (id, val) VALUES (%s, %s) RETURNING id, val",
                        [(i, f"r{i}") for i in range(101, 106)], returning=True)
        got = []
        while True:
            got.extend(cur.fetchall())
            if not cur.nextset():
                break
        expect_eq(got, [(i, f"r{i}") for i in range(101, 106)])

    with check("executemany failing midway reports 23505, then usable"):
        cur = conn.cursor()
        expect_error(errors.UniqueViolation, "23505", lambda: cur.executemany(
            "INSERT INTO smoke_many (id, val) VALUES (%s, %s)",
            [(1000, "a"), (1001, "b"), (1, "dup"), (1002, "c")]))
        expect_eq(conn.info.transaction_status, TS.IDLE, "transaction status")
        expect_eq(conn.execute("SELECT 6").fetchone(), (6,))

    # ------------------------------------------------------------------- COPY
    copy_rows = [
        (1, "plain"),
        (2, "tab\there"),
        (3, "new\nline"),
        (4, "back\\slash \\N"),
        (5, "ünïcødé 🐘"),
        (6, None),
        (7, ""),
    ]
    conn.execute("CREATE TEMP TABLE smoke_copy (id int PRIMARY KEY, val text)")

    with check("COPY FROM STDIN (text)"):
        cur = conn.cursor()
        with cur.copy("COPY smoke_copy (id, val) FROM STDIN") as copy:
            for r in copy_rows:
                copy.write_row(r)
        expect_eq(cur.rowcount, len(copy_rows), "rowcount")
        expect_eq(cur.statusmessage, f"COPY {len(copy_rows)}", "command tag")
        expect_eq(conn.execute("SELECT id, val FROM smoke_copy ORDER BY id").fetchall(), copy_rows)

    with check("COPY TO STDOUT (text)"):
        cur = conn.cursor()
        with cur.copy("COPY (SELECT id, val FROM smoke_copy ORDER BY id) TO STDOUT") as copy:
            copy.set_types(["int4", "text"])
            got = list(copy.rows())
        expect_eq(got, copy_rows)
        expect_eq(cur.rowcount, len(copy_rows), "rowcount")

    with check("COPY TO STDOUT (raw text format)"):
        cur = conn.cursor()
        with cur.copy("COPY (SELECT id, val FROM smoke_copy WHERE id IN (2, 6) ORDER BY id)"
                      " TO STDOUT") as copy:
            raw = b"".join(bytes(b) for b in copy)
        expect_eq(raw, b"2\ttab\\there\n6\t\\N\n")

    with check("COPY binary FROM STDIN / TO STDOUT"):
        conn.execute("CREATE TEMP TABLE smoke_copy_bin (id int8, val text, b bytea)")
        brows = [(1, "a", b"\x00\xff"), (2, None, None), (3, "ü 🐘", b"")]
        cur = conn.cursor()
        with cur.copy("COPY smoke_copy_bin (id, val, b) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "text", "bytea"])
            for r in brows:
                copy.write_row(r)
        with cur.copy("COPY (SELECT id, val, b FROM smoke_copy_bin ORDER BY id)"
                      " TO STDOUT (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "text", "bytea"])
            got = list(copy.rows())
        expect_eq(got, brows)

    with check("COPY FROM STDIN of 20000 rows"):
        conn.execute("CREATE TEMP TABLE smoke_copy_big (id int, val text)")
        cur = conn.cursor()
        with cur.copy("COPY smoke_copy_big FROM STDIN") as copy:
            for i in range(20000):
                copy.write_row((i, f"row {i} " + "x" * (i % 50)))
        expect_eq(conn.execute("SELECT count(*), sum(id) FROM smoke_copy_big").fetchone(),
                  (20000, 199990000))

    with check("COPY aborted by the client (CopyFail), then usable"):
        class Abort(Exception):
            pass

        cur = conn.cursor()
        try:
            with cur.copy("COPY smoke_copy (id, val) FROM STDIN") as copy:
                copy.write_row((100, "never"))
                raise Abort()
        except Abort:
            pass
        else:
            raise AssertionError("the abort did not propagate")
        expect_eq(conn.info.transaction_status, TS.IDLE, "transaction status")
        expect_eq(conn.execute("SELECT count(*) FROM smoke_copy WHERE id = 100").fetchone(), (0,))

    with check("COPY FROM STDIN with a server error reports 23505, then usable"):
        def bad_copy():
            with conn.cursor().copy("COPY smoke_copy (id, val) FROM STDIN") as copy:
                copy.write_row((200, "new"))
                copy.write_row((1, "duplicate"))
        expect_error(errors.UniqueViolation, "23505", bad_copy)
        expect_eq(conn.execute("SELECT count(*) FROM smoke_copy").fetchone(), (len(copy_rows),))

    # --------------------------------------------------------------- pipeline
    with check("pipeline mode: several queries"):
        with conn.pipeline():
            c1 = conn.execute("SELECT 1")
            c2 = conn.execute("SELECT %s::text || %s::text", ("pipe", "lined ✓"))
            c3 = conn.execute("INSERT INTO smoke_items VALUES (%s, %s) RETURNING id", (40, "piped"))
            c4 = conn.execute("SELECT count(*) FROM generate_series(1, %s)", (1000,))
            c5 = conn.execute("SELECT %s::int * 3", (7,), prepare=True)
        expect_eq(c1.fetchone(), (1,), "c1")
        expect_eq(c2.fetchone(), ("pipelined ✓",), "c2")
        expect_eq(c3.fetchone(), (40,), "c3")
        expect_eq(c4.fetchone(), (1000,), "c4")
        expect_eq(c5.fetchone(), (21,), "c5")
        expect_eq(conn.execute("SELECT name FROM smoke_items WHERE id = 40").fetchone(), ("piped",))

    with check("pipeline mode: explicit sync and transaction"):
        with conn.pipeline() as p:
            with conn.transaction():
                conn.execute("INSERT INTO smoke_items VALUES (%s, %s)", (41, "p41"))
                conn.execute("INSERT INTO smoke_items VALUES (%s, %s)", (42, "p42"))
            p.sync()
            c = conn.execute("SELECT count(*) FROM smoke_items WHERE id IN (41, 42)")
            expect_eq(c.fetchone(), (2,))

    with check("pipeline mode: error aborts the pipeline, then usable"):
        def failing_pipeline():
            with conn.pipeline():
                conn.execute("SELECT 1")
                conn.execute("SELECT 1/0")
                conn.execute("SELECT 2")
        expect_error(errors.DivisionByZero, "22012", failing_pipeline)
        expect_eq(conn.info.transaction_status, TS.IDLE, "transaction status")
        expect_eq(conn.execute("SELECT 7").fetchone(), (7,))

    # ---------------------------------------------------------- misc protocol
    with check("server-side cursor (DECLARE/FETCH)"):
        with conn.transaction():
            cur = conn.cursor(name="smoke_named_cursor")
            cur.itersize = 500
            cur.execute("SELECT g FROM generate_series(1, %s) g", (5000,))
            total = n = 0
            for (g,) in cur:
                total += g
                n += 1
            cur.close()
        expect_eq((n, total), (5000, 12502500))

    with check("multiple statements in one simple query"):
        cur = psycopg.ClientCursor(conn)
        cur.execute("SELECT %s::int AS a; SELECT %s::text AS b", (1, "two"))
        first = cur.fetchall()
        expect(cur.nextset(), "second result set missing")
        expect_eq((first, cur.fetchall()), ([(1,)], [("two",)]))

    with check("large result (100000 rows)"):
        rows = conn.execute("SELECT g, repeat('y', 20) FROM generate_series(1, 100000) g").fetchall()
        expect_eq(len(rows), 100000, "row count")
        expect_eq(sum(r[0] for r in rows), 5000050000, "sum")

    # ---------------------------------------------------------- LISTEN/NOTIFY
    # A channel of our own: other runs may share the server at the same time.
    chan = f"smoke_chan_{os.getpid()}_{os.urandom(4).hex()}"

    with check("LISTEN/NOTIFY across two connections"):
        listener = connect()
        listener.execute(f"LISTEN {chan}")
        sender_pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        conn.execute(f"NOTIFY {chan}, 'plain payload'")
        conn.execute("SELECT pg_notify(%s, %s)", (chan, "payload ü 'q'"))
        got = []
        for n in listener.notifies(timeout=5, stop_after=2):
            got.append(n)
            if len(got) >= 2:
                break
        expect_eq([(n.channel, n.payload) for n in got],
                  [(chan, "plain payload"), (chan, "payload ü 'q'")])
        expect_eq([n.pid for n in got], [sender_pid, sender_pid], "notifying pid")

    with check("NOTIFY inside a transaction arrives only after COMMIT"):
        conn.execute("BEGIN")
        conn.execute(f"NOTIFY {chan}, 'tx'")
        early = list(listener.notifies(timeout=0.5, stop_after=1))
        expect_eq(early, [], "notifications before COMMIT")
        conn.execute("COMMIT")
        got = list(listener.notifies(timeout=5, stop_after=1))
        expect_eq([(n.channel, n.payload) for n in got], [(chan, "tx")])

    with check("UNLISTEN and close"):
        listener.execute("UNLISTEN *")
        listener.close()
        expect(listener.closed, "listener not closed")
        expect_eq(conn.execute("SELECT 'bye'").fetchone(), ("bye",))
        conn.close()

    timer.cancel()
    print(f"psycopg: {_checks_passed} checks passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException as e:  # anything outside a check
        _fail(_current, f"{type(e).__name__}: {e}")
