#!/usr/bin/env python3
"""Soft deletes through softdel with psycopg 3, against the shop database of
tests/integration/softdelete/shop.rs (orders soft, refunds journal,
audit_logs block, orders limited to 10 rows per DELETE).

Usage: .venv/bin/python tests/clients/soft_delete.py URL

Prints "ok - <what>" per check; exits 1 on the first failure.
"""

import sys

import psycopg
from psycopg import errors, pq

URL = sys.argv[1]


def check(what, cond, detail=""):
    if not cond:
        sys.stderr.write(f"not ok - {what} {detail}\n")
        sys.exit(1)
    print(f"ok - {what}")


def sqlstate_of(fn):
    try:
        fn()
    except psycopg.Error as e:
        return e.sqlstate, str(e)
    return None, ""


with psycopg.connect(URL, autocommit=True) as conn:
    cur = conn.cursor()

    cur.execute("DELETE FROM orders WHERE id = %s", (1,))
    check("rowcount of a soft delete", cur.rowcount == 1, cur.rowcount)
    check("status is the DELETE's", cur.statusmessage == "DELETE 1", cur.statusmessage)
    cur.execute("DELETE FROM orders WHERE id = %s", (1,))
    check("an already deleted row counts 0", cur.rowcount == 0)

    cur.execute("DELETE FROM orders WHERE id = ANY(%s) RETURNING id, note", ([2, 3],))
    names = [d.name for d in cur.description]
    check("RETURNING describes the client's columns", names == ["id", "note"], names)
    check("RETURNING rows", sorted(cur.fetchall()) == [(2, None), (3, None)])

    # Server-side prepared statement, executed several times.
    for i in (4, 5, 6):
        cur.execute("DELETE FROM orders WHERE id = %s", (i,), prepare=True)
        check(f"prepared delete {i}", cur.rowcount == 1)

    # Binary results.
    bcur = conn.cursor(binary=True)
    bcur.execute("DELETE FROM refunds WHERE id = %s RETURNING id, amount", (1,))
    check("binary RETURNING", bcur.fetchall() == [(1, 10)])

    # Pipeline mode: several statements before any result.
    with conn.pipeline():
        c1 = conn.execute("DELETE FROM orders WHERE id = %s", (7,))
        c2 = conn.execute("SELECT count(*) FROM orders WHERE is_active")
        c3 = conn.execute("DELETE FROM refunds WHERE id = %s RETURNING amount", (2,))
    check("pipelined delete", c1.rowcount == 1)
    check("pipelined select", c2.fetchone()[0] == 13)
    check("pipelined returning", c3.fetchall() == [(20,)])

    state, text = sqlstate_of(lambda: cur.execute("DELETE FROM audit_logs WHERE id = %s", (1,)))
    check("block table refused with SD001", state == "SD001", state)
    check("the message names the table", "audit_logs" in text, text)

    state, _ = sqlstate_of(lambda: cur.execute("DELETE FROM orders WHERE id > %s", (0,)))
    check("over the row limit refused with SD002", state == "SD002", state)

with psycopg.connect(URL) as conn:
    cur = conn.cursor()
    cur.execute("DELETE FROM orders WHERE id = 8")
    state, _ = sqlstate_of(lambda: cur.execute("TRUNCATE refunds"))
    check("truncate refused with SD003", state == "SD003", state)
    check(
        "the transaction is aborted, as after a server error",
        conn.info.transaction_status == pq.TransactionStatus.INERROR,
    )
    conn.rollback()
    cur.execute("SELECT is_active FROM orders WHERE id = 8")
    check("the rolled-back soft delete left the row live", cur.fetchone()[0] is True)

print("psycopg soft delete: all checks passed")
