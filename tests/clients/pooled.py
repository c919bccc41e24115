#!/usr/bin/env python3
"""psycopg 3 through softdel in front of a transaction pooler that gives
every client the same server connection (tests/integration/rollout/pooled.rs).

Usage: .venv/bin/python tests/clients/pooled.py POSTGRES_URL

Two connections, a and b, in autocommit: a connection inside a transaction
would hold the only server connection and the other would wait for it.
Prints one line per step, what psycopg returned or the error's SQLSTATE,
for the test to compare; exits 0 unless something unexpected broke.
"""

import sys

import psycopg

QUERY = "SELECT id FROM orders WHERE id IN (%s, %s) ORDER BY id"


def step(what, conn, sql, params=None, **kw):
    try:
        cur = conn.execute(sql, params, **kw)
        rows = [r[0] for r in cur.fetchall()] if cur.description else None
        print(f"{what}: {cur.statusmessage} {rows}")
    except psycopg.Error as e:
        print(f"{what}: {e.sqlstate} {e.diag.message_primary}")


def main():
    url = sys.argv[1]
    a = psycopg.connect(url, autocommit=True, application_name="psycopg-a")
    b = psycopg.connect(url, autocommit=True, application_name="psycopg-b")
    pid = "SELECT pg_backend_pid()"
    same = a.execute(pid).fetchone() == b.execute(pid).fetchone()
    print(f"one server connection: {same}")

    # Parameters: the extended protocol, with the unnamed statement.
    step("a deletes 14", a, "DELETE FROM orders WHERE id = %s", (14,))
    step("b reads", b, QUERY, (14, 15))
    step("a shows deleted", a, "SET softdel.show_deleted = on")
    step("a reads", a, QUERY, (14, 15))
    step("b reads", b, QUERY, (14, 15))

    # Named statements: psycopg calls each connection's first one _pg3_0.
    step("a prepares", a, QUERY, (14, 15), prepare=True)
    step("b prepares", b, QUERY, (14, 15), prepare=True)
    step("a prepared", a, QUERY, (14, 15))
    # By default (prepare_threshold=5) psycopg prepares a query at its
    # sixth execution, as _pg3_0 on a new connection.
    count = "SELECT count(*) FROM orders WHERE id > %s"
    c = psycopg.connect(url, autocommit=True, application_name="psycopg-c")
    for n in range(1, 7):
        step(f"c reads ({n})", c, count, (0,))
    # Without prepared statements, nothing clashes.
    d = psycopg.connect(url, autocommit=True, prepare_threshold=None, application_name="psycopg-d")
    for n in range(1, 7):
        step(f"d reads ({n})", d, count, (0,))

if __name__ == "__main__":
    main()
