#!/usr/bin/env python3
"""The Django ORM through softdel: cascading deletes soft-deleted, journaled
and refused inside one transaction.

Usage: scenario.py PROXY_URL DIRECT_URL [--server-side-binding]

Django talks to PROXY_URL only; DIRECT_URL (the same database, bypassing
the proxy) is used to read the tables and the softdel journal. The proxy
must run with these rules (table names are Django's, app label `shop`):

    tables:
      shop_order:        {flag: is_active, max_rows: 5}
      shop_payment:      {timestamp: deleted_at}
      shop_refund:       {on_delete: journal}
      shop_auditlog:     {on_delete: block}
      shop_subscription: {flag: is_active}

and the journal (schema softdel) must be installed in the database.
A DELETE on shop_auditlog is refused only when it would remove a row, and
only DELETEs that removed rows are journaled.
Prints every statement Django runs for each delete, one line per check,
and exits 1 on the first failed check.
"""

import argparse
import os
import subprocess
import sys
import traceback
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django  # noqa: E402
import psycopg  # noqa: E402
from django.conf import settings  # noqa: E402

SHOP_TABLES = [
    "shop_customer",
    "shop_order",
    "shop_payment",
    "shop_refund",
    "shop_auditlog",
    "shop_subscription",
]
# What the proxy does to a DELETE on each table (the rules above).
ACTIONS = {
    "shop_order": "soft_delete",
    "shop_payment": "soft_delete",
    "shop_subscription": "soft_delete",
    "shop_refund": "journal_delete",
}


def say(text):
    print(text, flush=True)


class Failed(Exception):
    pass


CHECKS = 0


def check(condition, message):
    global CHECKS
    if not condition:
        raise Failed(message)
    CHECKS += 1
    say(f"  ok: {message}")


def check_eq(actual, expected, message):
    if actual != expected:
        raise Failed(f"{message}: expected {expected!r}, got {actual!r}")
    check(True, message)


def database_settings(url, server_side_binding):
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    options = {"server_side_binding": server_side_binding}
    if "connect_timeout" in query:
        options["connect_timeout"] = int(query["connect_timeout"][0])
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname,
        "PORT": str(parts.port or 5432),
        "OPTIONS": options,
    }


class StatementLog:
    """Records every statement Django executes (an execute_wrapper), as it
    goes over the wire: with the values inlined (client-side binding, the
    simple query protocol) or with $n placeholders (server-side binding,
    the extended protocol)."""

    def __init__(self):
        self.entries = []

    def __call__(self, execute, sql, params, many, context):
        cursor = context["cursor"].cursor
        entry = {
            "sql": sql,
            "wire": wire_text(cursor, sql, params),
            "tag": None,
            "rowcount": None,
            "error": None,
        }
        self.entries.append(entry)
        try:
            result = execute(sql, params, many, context)
        except Exception as e:
            cause = e.__cause__ or e
            entry["error"] = f"{getattr(cause, 'sqlstate', None)} {cause}".strip()
            raise
        entry["rowcount"] = cursor.rowcount
        entry["tag"] = cursor.statusmessage
        return result

    def mark(self):
        return len(self.entries)

    def since(self, mark):
        return self.entries[mark:]


def wire_text(cursor, sql, params):
    if params is None:
        return sql
    if isinstance(cursor, psycopg.ClientCursor):
        return cursor.mogrify(sql, params)
    pieces = sql.replace("%%", "\0").split("%s")
    text = pieces[0] + "".join(f"${i}{p}" for i, p in enumerate(pieces[1:], start=1))
    return text.replace("\0", "%") + f"  -- {list(params)!r}"


def table_of_delete(sql):
    """`shop_order` for `DELETE FROM "shop_order" WHERE ...`, else None."""
    words = sql.split()
    if len(words) >= 3 and words[0].upper() == "DELETE" and words[1].upper() == "FROM":
        return words[2].strip('"')
    return None


def deletes_on(entries, table):
    """The DELETEs Django ran on `table`."""
    return [e for e in entries if table_of_delete(e["sql"]) == table]


def show(entries, title):
    say(f"  statements ({title}):")
    for e in entries:
        outcome = f"ERROR {e['error']}" if e["error"] else e["tag"]
        say(f"    {e['wire']}\n      -> {outcome}")


class Direct:
    """The database read straight, not through the proxy."""

    def __init__(self, url):
        self.conn = psycopg.connect(url, autocommit=True)

    def rows(self, sql, *params):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def value(self, sql, *params):
        return self.rows(sql, *params)[0][0]

    def snapshot(self):
        """Every shop table's rows, and the journal except blocked records."""
        state = {t: self.rows(f"SELECT * FROM {t} ORDER BY id") for t in SHOP_TABLES}
        state["softdel.operations"] = self.rows(
            "SELECT id, txid, table_name, action, row_count FROM softdel.operations "
            "WHERE action <> 'blocked' ORDER BY id"
        )
        state["softdel.rows"] = self.rows(
            "SELECT r.op_id, r.image FROM softdel.rows r "
            "JOIN softdel.operations o ON o.id = r.op_id "
            "WHERE o.action <> 'blocked' ORDER BY r.op_id, r.image->>'id'"
        )
        return state

    def last_op(self):
        return self.value("SELECT coalesce(max(id), 0) FROM softdel.operations")

    def ops_since(self, op_id):
        return self.rows(
            "SELECT id, txid, table_schema, table_name, action, row_count, sql "
            "FROM softdel.operations WHERE id > %s AND action <> 'blocked' ORDER BY id",
            op_id,
        )

    def images(self, op_id):
        return [
            r[0]
            for r in self.rows(
                "SELECT image FROM softdel.rows WHERE op_id = %s ORDER BY (image->>'id')::bigint",
                op_id,
            )
        ]


def check_journal(direct, log_entries, first_op, deleted_ids):
    """One journal operation per DELETE Django ran on a protected table that
    removed rows (one that removed none is not journaled), in order, all in
    one transaction, each with the images of its rows."""
    deletes = []
    for e in log_entries:
        table = table_of_delete(e["sql"])
        if table in ACTIONS and e["rowcount"] > 0:
            deletes.append((table, ACTIONS[table], e["rowcount"]))
    ops = direct.ops_since(first_op)
    check_eq(
        [(op[3], op[4], op[5]) for op in ops],
        deletes,
        "journal: one operation per DELETE on a protected table that removed rows "
        "(table, action, rows)",
    )
    check_eq(len({op[1] for op in ops}), 1, "journal: every operation has the same txid")
    check(all(op[2] == "public" for op in ops), "journal: schema public")
    for op in ops:
        check(
            op[6].lstrip().upper().startswith("DELETE") and f'"{op[3]}"' in op[6],
            f"journal: operation {op[0]} keeps the DELETE Django sent for {op[3]}",
        )
        ids = [image["id"] for image in direct.images(op[0])]
        check_eq(ids, sorted(deleted_ids.get(op[3], [])), f"journal: row images of {op[3]}")
    return ops


def check_untouched(before, after, changed):
    """Every shop table's rows other than `changed` (ids per table) are as
    they were."""
    for table in SHOP_TABLES:
        keep = changed.get(table, [])
        check_eq(
            [r for r in after[table] if r[0] not in keep],
            [r for r in before[table] if r[0] not in keep],
            f"{table}: the other customers' rows untouched",
        )


def expect_refused(action, sqlstate, table, message_part):
    from django.db import DatabaseError

    try:
        result = action()
    except DatabaseError as e:
        cause = e.__cause__
        say(f"  refused: {type(e).__module__}.{type(e).__name__}: {e}".rstrip())
        check(
            isinstance(cause, psycopg.Error),
            f"the error wraps a psycopg error ({type(cause).__name__})",
        )
        check_eq(cause.sqlstate, sqlstate, "SQLSTATE")
        text = str(cause)
        check(table in text, f"the message names {table}")
        check(message_part in text, f"the message says {message_part!r}")
        return e
    raise Failed(f"expected SQLSTATE {sqlstate}, but the delete returned {result!r}")


def run(args):
    settings.configure(
        DEBUG=False,
        INSTALLED_APPS=["shop"],
        DATABASES={"default": database_settings(args.proxy_url, args.server_side_binding)},
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()

    from django.db import IntegrityError, connection

    from shop.models import AuditLog, Customer, Order, Payment, Refund, Subscription

    log = StatementLog()
    connection.execute_wrappers.append(log)
    direct = Direct(args.direct_url)
    binding = "server-side" if args.server_side_binding else "client-side"
    say(f"django {django.get_version()}, psycopg {psycopg.__version__}, {binding} binding")

    # --- schema, through the proxy ---------------------------------------
    say("setup: creating the tables through the proxy")
    with connection.schema_editor() as editor:
        for model in (Customer, Order, Payment, Refund, AuditLog, Subscription):
            editor.create_model(model)
    # As an operator does after every migration: the guard brought in line
    # with the rules, now that the tables exist.
    install_guard(args)
    check_eq(
        sorted(
            r[0]
            for r in direct.rows(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ),
        sorted(SHOP_TABLES),
        "tables created",
    )
    check(
        direct.value("SELECT count(*) FROM softdel.operations") == 0,
        "the journal is installed and empty",
    )

    def shop_for(name, orders):
        """A customer and, per order, a list of payments, each a number of refunds."""
        customer = Customer.objects.create(name=name)
        for i, (payments, audit_logs) in enumerate(orders, start=1):
            order = Order.objects.create(customer=customer, label=f"{name}-{i}")
            for j, refunds in enumerate(payments, start=1):
                payment = Payment.objects.create(order=order, amount=100 * i + j)
                for k in range(refunds):
                    Refund.objects.create(payment=payment, amount=k + 1)
            for k in range(audit_logs):
                AuditLog.objects.create(order=order, message=f"{name}-{i} log {k}")
        return customer

    bob = shop_for("bob", [([1, 2], 1), ([0], 0)])
    alice = shop_for("alice", [([2, 0], 0), ([1], 0), ([], 0)])

    def ids(queryset):
        return list(queryset.values_list("id", flat=True))

    alice_orders = ids(Order.objects.filter(customer=alice))
    alice_payments = ids(Payment.objects.filter(order__customer=alice))
    alice_refunds = ids(Refund.objects.filter(payment__order__customer=alice))
    Subscription.objects.create(customer=bob)

    # --- part 1 -------------------------------------------------------------
    say(
        "part 1: a customer's cascade: orders and payments soft-deleted, refunds journaled, "
        "absent audit logs and subscriptions deleted with DELETE 0"
    )
    first_op = direct.last_op()
    before = direct.snapshot()
    mark = log.mark()
    result = Customer.objects.filter(name="alice").delete()
    show(log.since(mark), "Customer.objects.filter(name='alice').delete()")
    say(f"  Django returned {result!r}")
    check_eq(
        result,
        (
            1 + 3 + 3 + 3,
            {"shop.Customer": 1, "shop.Order": 3, "shop.Payment": 3, "shop.Refund": 3},
        ),
        "Django's per-model counts",
    )
    check(not Customer.objects.filter(name="alice").exists(), "the customer is gone")
    check_eq(
        [e["tag"] for e in deletes_on(log.since(mark), "shop_auditlog")],
        ["DELETE 0"],
        "the fast delete of alice's (absent) audit logs on the block table: DELETE 0",
    )
    check_eq(
        [e["tag"] for e in deletes_on(log.since(mark), "shop_subscription")],
        ["DELETE 0"],
        "the DELETE of alice's (absent) subscriptions: DELETE 0, not journaled",
    )
    orders = direct.rows(
        "SELECT id, is_active FROM shop_order WHERE id = ANY(%s) ORDER BY id", alice_orders
    )
    check_eq([o[0] for o in orders], sorted(alice_orders), "the orders are still there")
    check(all(o[1] is False for o in orders), "the orders have is_active = false")
    payments = direct.rows(
        "SELECT id, deleted_at FROM shop_payment WHERE id = ANY(%s) ORDER BY id", alice_payments
    )
    check_eq([p[0] for p in payments], sorted(alice_payments), "the payments are still there")
    check(all(p[1] is not None for p in payments), "the payments have deleted_at set")
    check_eq(
        direct.value("SELECT count(*) FROM shop_refund WHERE id = ANY(%s)", alice_refunds),
        0,
        "the refunds are gone",
    )
    check_untouched(
        before,
        direct.snapshot(),
        {
            "shop_customer": [alice.pk],
            "shop_order": alice_orders,
            "shop_payment": alice_payments,
            "shop_refund": alice_refunds,
        },
    )
    ops = check_journal(
        direct,
        log.since(mark),
        first_op,
        {"shop_order": alice_orders, "shop_payment": alice_payments, "shop_refund": alice_refunds},
    )
    by_table = {op[3]: op for op in ops}
    at = direct.value(
        "SELECT at FROM softdel.operations WHERE id = %s", by_table["shop_payment"][0]
    )
    check(
        all(p[1] == at for p in payments),
        "deleted_at is the transaction's now(), the journal's time",
    )
    images = direct.images(by_table["shop_order"][0])
    check(
        all(image["customer_id"] == alice.pk and image["is_active"] is False for image in images),
        "the order images are alice's orders, as soft-deleted",
    )

    say("part 1b: deleting the soft-deleted orders again changes nothing")
    first_op = direct.last_op()
    before = direct.snapshot()
    mark = log.mark()
    result = Order.objects.filter(pk__in=alice_orders).delete()
    show(log.since(mark), "Order.objects.filter(pk__in=alice_orders).delete()")
    check_eq(result, (0, {}), "Django's counts: nothing deleted")
    check(
        all(e["tag"] == "DELETE 0" for e in log.since(mark) if table_of_delete(e["sql"])),
        "every DELETE Django ran returned DELETE 0",
    )
    check_eq(direct.ops_since(first_op), [], "journal: no new operation")
    after = direct.snapshot()
    for table in SHOP_TABLES:
        check_eq(after[table], before[table], f"{table} unchanged")

    # --- part 2 -------------------------------------------------------------
    say("part 2: a cascade that reaches existing audit logs (block) is refused")
    shop_for("carol", [([1], 0), ([1, 1], 2)])
    before = direct.snapshot()
    mark = log.mark()
    expect_refused(
        lambda: Customer.objects.filter(name="carol").delete(),
        "SD001",
        "shop_auditlog",
        "the statement would remove 2 rows; nothing was deleted",
    )
    show(log.since(mark), "Customer.objects.filter(name='carol').delete()")
    check_eq(
        [(table_of_delete(e["sql"]), e["error"][:5]) for e in log.since(mark) if e["error"]],
        [("shop_auditlog", "SD001")],
        "the refused statement is the DELETE on shop_auditlog",
    )
    check(
        any(
            table_of_delete(e["sql"]) == "shop_refund" and e["error"] is None
            for e in log.since(mark)
        ),
        "the refunds were deleted (journaled) before the audit log DELETE",
    )
    check_eq(direct.snapshot(), before, "nothing changed: tables and journal as before")
    check(not connection.in_atomic_block, "Django left the atomic block")
    check(connection.is_usable(), "the connection is usable")
    check_eq(Customer.objects.filter(name="carol").count(), 1, "the customer is still there")
    Customer.objects.filter(name="carol").update(name="carol2")
    check_eq(
        direct.value("SELECT count(*) FROM shop_customer WHERE name = 'carol2'"),
        1,
        "a write on the same connection commits",
    )

    say("part 2b: a cascade that reaches no audit log: a fast delete of absent audit logs passes")
    dave = shop_for("dave", [([1], 0)])
    dave_orders = ids(Order.objects.filter(customer=dave))
    dave_payments = ids(Payment.objects.filter(order__customer=dave))
    dave_refunds = ids(Refund.objects.filter(payment__order__customer=dave))
    first_op = direct.last_op()
    before = direct.snapshot()
    mark = log.mark()
    result = Customer.objects.filter(pk=dave.pk).delete()
    show(log.since(mark), "Customer.objects.filter(pk=dave.pk).delete()")
    say(f"  Django returned {result!r}")
    check_eq(
        result,
        (4, {"shop.Customer": 1, "shop.Order": 1, "shop.Payment": 1, "shop.Refund": 1}),
        "Django's per-model counts",
    )
    check_eq(
        [e["error"] for e in log.since(mark) if e["error"]], [], "no statement was refused"
    )
    check_eq(
        [e["tag"] for e in deletes_on(log.since(mark), "shop_auditlog")],
        ["DELETE 0"],
        "the fast delete on the block table shop_auditlog: DELETE 0",
    )
    check_eq(
        direct.value("SELECT count(*) FROM shop_customer WHERE id = %s", dave.pk),
        0,
        "the customer row is really deleted (shop_customer is not protected)",
    )
    check_eq(
        direct.rows(
            "SELECT id, customer_id, is_active FROM shop_order WHERE id = ANY(%s)", dave_orders
        ),
        [(dave_orders[0], dave.pk, False)],
        "the order is soft-deleted, still pointing at the deleted customer",
    )
    check_eq(
        direct.value(
            "SELECT count(*) FROM shop_payment WHERE id = ANY(%s) AND deleted_at IS NOT NULL",
            dave_payments,
        ),
        1,
        "the payment is soft-deleted",
    )
    check_eq(
        direct.value("SELECT count(*) FROM shop_refund WHERE id = ANY(%s)", dave_refunds),
        0,
        "the refund is gone",
    )
    after = direct.snapshot()
    check_eq(after["shop_auditlog"], before["shop_auditlog"], "shop_auditlog untouched")
    check_untouched(
        before,
        after,
        {
            "shop_customer": [dave.pk],
            "shop_order": dave_orders,
            "shop_payment": dave_payments,
            "shop_refund": dave_refunds,
        },
    )
    check_journal(
        direct,
        log.since(mark),
        first_op,
        {"shop_order": dave_orders, "shop_payment": dave_payments, "shop_refund": dave_refunds},
    )

    # --- part 3 -------------------------------------------------------------
    say("part 3: more orders than max_rows (5) in one DELETE is refused")
    erin = shop_for("erin", [([], 0)] * 6)
    erin_orders = sorted(Order.objects.filter(customer=erin).values_list("id", flat=True))
    before = direct.snapshot()
    mark = log.mark()
    expect_refused(
        lambda: Order.objects.filter(customer=erin).delete(),
        "SD002",
        "shop_order",
        "6 rows, over the limit of 5",
    )
    show(log.since(mark), "Order.objects.filter(customer=erin).delete()")
    check_eq(direct.snapshot(), before, "nothing changed")
    check(connection.is_usable(), "the connection is usable")

    say("part 3b: exactly max_rows orders is allowed")
    first_op = direct.last_op()
    mark = log.mark()
    result = Order.objects.filter(pk__in=erin_orders[:5]).delete()
    show(log.since(mark), "Order.objects.filter(pk__in=erin_orders[:5]).delete()")
    check_eq(result, (5, {"shop.Order": 5}), "Django's counts")
    check_eq(
        direct.rows(
            "SELECT id, is_active FROM shop_order WHERE customer_id = %s ORDER BY id", erin.pk
        ),
        [(i, i not in erin_orders[:5]) for i in erin_orders],
        "five orders soft-deleted, the sixth live",
    )
    check_journal(direct, log.since(mark), first_op, {"shop_order": erin_orders[:5]})

    # --- part 4 -------------------------------------------------------------
    say("part 4: soft-deleting a row whose parent is really deleted fails the commit")
    frank = Customer.objects.create(name="frank")
    Subscription.objects.create(customer=frank)
    before = direct.snapshot()
    mark = log.mark()
    try:
        result = Customer.objects.filter(pk=frank.pk).delete()
    except IntegrityError as e:
        show(log.since(mark), "Customer.objects.filter(pk=frank.pk).delete()")
        say(f"  refused at commit: {e}".rstrip())
        check_eq(getattr(e.__cause__, "sqlstate", None), "23503", "foreign key violation at commit")
    else:
        show(log.since(mark), "Customer.objects.filter(pk=frank.pk).delete()")
        raise Failed(f"expected a foreign key violation at commit, got {result!r}")
    check_eq(direct.snapshot(), before, "nothing changed")
    check(connection.is_usable(), "the connection is usable")

    direct.conn.close()
    connection.close()
    say(f"django scenario: {CHECKS} checks passed")


def install_guard(args):
    """softdel init --rules against the database itself."""
    init = subprocess.run(
        [args.softdel, "init", "--database-url", args.direct_url, "--rules", args.rules],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if init.returncode != 0:
        raise SystemExit(f"softdel init --rules failed:\n{init.stdout}\n{init.stderr}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("proxy_url")
    parser.add_argument("direct_url")
    parser.add_argument("softdel")
    parser.add_argument("rules")
    parser.add_argument("--server-side-binding", action="store_true")
    args = parser.parse_args()
    try:
        run(args)
    except Failed as e:
        say(f"django scenario: FAILED: {e}")
        sys.exit(1)
    except Exception:
        traceback.print_exc()
        say("django scenario: FAILED with an unexpected error")
        sys.exit(1)


if __name__ == "__main__":
    main()
