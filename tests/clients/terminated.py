#!/usr/bin/env python3
"""A session whose backend is terminated: the next statement must fail as
it does straight against PostgreSQL: AdminShutdown (SQLSTATE 57P01), the
server's own error, or (libpq in pipeline mode, which reads the end of the
connection before the error) "server closed the connection unexpectedly".
Never InternalError, never an error of the proxy's own.

Usage: .venv/bin/python tests/clients/terminated.py TARGET_URL DIRECT_URL [ROUNDS]

TARGET_URL is where the sessions connect (softdel, or PostgreSQL itself);
DIRECT_URL is PostgreSQL, where pg_terminate_backend is called. Each round
terminates an idle session, one in a transaction and one with a pipeline
in flight, without waiting for the backend to go, so the next statement
races the end of the session. A proxy that sends its own FATAL after the
server's makes libpq report "received 2 results" (InternalError).

Prints "all rounds ended as PostgreSQL ends them" and exits 0, or prints
each round that ended otherwise and exits 1.
"""

import sys

import psycopg
from psycopg import errors


def end(session, direct):
    pid = session.info.backend_pid
    with direct.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert cur.fetchone()[0], f"backend {pid} was not signalled"


def idle(session):
    session.execute("SELECT 1")


def in_transaction(session):
    session.execute("SELECT 1")


def pipeline(session):
    with session.pipeline():
        session.execute("SELECT 1")
        session.execute("SELECT 2")


CASES = {
    "idle": (idle, True),
    "in a transaction": (in_transaction, False),
    "with a pipeline in flight": (pipeline, True),
}

# How libpq reports, in pipeline mode, a server that said FATAL and closed.
CLOSED = "server closed the connection unexpectedly"


def round_ends_as_postgresql_ends_it(target, direct, case):
    statement, autocommit = CASES[case]
    session = psycopg.connect(target, autocommit=autocommit, connect_timeout=10)
    try:
        if not autocommit:
            session.execute("SELECT 1")  # opens the transaction
        end(session, direct)
        try:
            statement(session)
        except errors.AdminShutdown:
            return None
        except psycopg.OperationalError as e:
            if case == "with a pipeline in flight" and CLOSED in str(e) and "softdel" not in str(e):
                return None
            return f"{type(e).__name__}: {e}".strip()
        except Exception as e:  # noqa: BLE001 - any other outcome is the finding
            return f"{type(e).__name__}: {e}".strip()
        return "no error"
    finally:
        session.close()


def main():
    target, direct_url = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    failures = []
    with psycopg.connect(direct_url, autocommit=True, connect_timeout=10) as direct:
        for n in range(rounds):
            for case in CASES:
                outcome = round_ends_as_postgresql_ends_it(target, direct, case)
                if outcome is not None:
                    failures.append(f"round {n}, {case}: {outcome}")
    for failure in failures:
        print(failure)
    if failures:
        print(f"{len(failures)} of {rounds * len(CASES)} rounds ended otherwise")
        sys.exit(1)
    print(f"all rounds ended as PostgreSQL ends them ({rounds * len(CASES)})")


if __name__ == "__main__":
    main()
