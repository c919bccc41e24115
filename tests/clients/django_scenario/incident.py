#!/usr/bin/env python3
"""The incident softdel exists for, at small scale: someone deletes a
customer in the admin, Django cascades through orders, payments, refunds
and audit logs, and an operator brings every row back with
`softdel undelete --txid`.

Usage: incident.py PROXY_URL DIRECT_URL SOFTDEL_BINARY [--server-side-binding]

Django talks to PROXY_URL only; DIRECT_URL (the same database, bypassing
the proxy) is where the operator works and where the state is read. The
proxy must run with these rules (Django names tables `<app>_<model>`):

    tables:
      shop_customer: {on_delete: journal}
      shop_order:    {flag: is_active}
      shop_payment:  {timestamp: deleted_at}
      shop_refund:   {on_delete: journal}
      shop_auditlog: {on_delete: journal}

and the journal must be installed. Exits 1 on the first failed check.
"""

import argparse
import subprocess
import sys
import traceback

from scenario import Direct, Failed, check, check_eq, database_settings, say

import scenario  # noqa: E402  (for its check counter)

import django  # noqa: E402
from django.conf import settings  # noqa: E402

TABLES = ["shop_customer", "shop_order", "shop_payment", "shop_refund", "shop_auditlog"]

# Each foreign key, and what makes a row of the child break it: its parent
# is missing, or its parent is soft-deleted while it is live.
INTEGRITY = {
    "orders without their customer": "SELECT count(*) FROM shop_order o "
    "LEFT JOIN shop_customer c ON c.id = o.customer_id WHERE c.id IS NULL",
    "live payments of deleted orders": "SELECT count(*) FROM shop_payment p "
    "JOIN shop_order o ON o.id = p.order_id WHERE p.deleted_at IS NULL AND NOT o.is_active",
    "refunds of deleted payments": "SELECT count(*) FROM shop_refund r "
    "JOIN shop_payment p ON p.id = r.payment_id WHERE p.deleted_at IS NOT NULL",
    "audit logs of deleted orders": "SELECT count(*) FROM shop_auditlog a "
    "JOIN shop_order o ON o.id = a.order_id WHERE NOT o.is_active",
}


def state(direct):
    """Every row of every table, as text."""
    return {t: direct.rows(f"SELECT t::text FROM {t} t ORDER BY id") for t in TABLES}


def counts(direct):
    """Rows per table, and live rows where that means something."""
    result = {t: direct.value(f"SELECT count(*) FROM {t}") for t in TABLES}
    result["live orders"] = direct.value("SELECT count(*) FROM shop_order WHERE is_active")
    result["live payments"] = direct.value(
        "SELECT count(*) FROM shop_payment WHERE deleted_at IS NULL"
    )
    return result


def integrity(direct):
    return {name: direct.value(sql) for name, sql in INTEGRITY.items()}


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

    from django.db import connection

    from shop.models import AuditLog, Customer, Order, Payment, Refund, Subscription

    direct = Direct(args.direct_url)
    binding = "server-side" if args.server_side_binding else "client-side"
    say(f"django {django.get_version()}, {binding} binding")
    with connection.schema_editor() as editor:
        # Subscriptions stay empty; Django's cascade still looks at them.
        for model in (Customer, Order, Payment, Refund, AuditLog, Subscription):
            editor.create_model(model)
    # As an operator does after every migration: the guard brought in line
    # with the rules, now that the tables exist.
    scenario.install_guard(args)

    # A small shop: three customers, each with orders, payments, refunds
    # and audit logs.
    for name in ("alice", "bob", "carol"):
        customer = Customer.objects.create(name=name)
        for i in range(1, 5):
            order = Order.objects.create(customer=customer, label=f"{name}-{i}")
            for j in range(1, 3):
                payment = Payment.objects.create(order=order, amount=100 * i + j)
                for k in range(j):
                    Refund.objects.create(payment=payment, amount=k + 1)
            for k in range(3):
                AuditLog.objects.create(order=order, message=f"{name}-{i} event {k}")

    before = state(direct)
    before_counts = counts(direct)
    before_integrity = integrity(direct)
    say(f"before: {before_counts}")
    check(all(v == 0 for v in before_integrity.values()), "integrity holds before the delete")

    # --- the incident: one click in the admin ------------------------------
    first_op = direct.last_op()
    deleted, per_model = Customer.objects.get(name="alice").delete()
    say(f"Django deleted {deleted}: {per_model}")
    check_eq(
        per_model,
        {
            "shop.Customer": 1,
            "shop.Order": 4,
            "shop.Payment": 8,
            "shop.Refund": 12,
            "shop.AuditLog": 12,
        },
        "the cascade reached every table",
    )
    check(not Customer.objects.filter(name="alice").exists(), "alice is gone, as far as Django knows")
    check(
        integrity(direct)["orders without their customer"] == 4,
        "her orders now point at a customer that does not exist",
    )
    ops = direct.ops_since(first_op)
    txids = {op[1] for op in ops}
    check_eq(len(txids), 1, "the journal recorded the cascade in one transaction")
    check_eq(
        sorted((op[3], op[4], op[5]) for op in ops),
        sorted(
            [
                ("shop_auditlog", "journal_delete", 12),
                ("shop_customer", "journal_delete", 1),
                ("shop_order", "soft_delete", 4),
                ("shop_payment", "soft_delete", 8),
                ("shop_refund", "journal_delete", 12),
            ]
        ),
        "the journal: table, action and rows of each operation",
    )
    txid = txids.pop()

    # --- 3 a.m.: the operator ------------------------------------------------
    say(f"operator: softdel log, then softdel undelete --txid {txid}")
    log = subprocess.run(
        [args.softdel, "log", "--database-url", args.direct_url],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    say(log.stdout)
    check(log.returncode == 0 and str(txid) in log.stdout, "softdel log shows the transaction")
    dry = subprocess.run(
        [args.softdel, "undelete", "--database-url", args.direct_url, "--txid", str(txid), "--dry-run"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    say(dry.stdout)
    check(
        dry.returncode == 0
        and "dry run: nothing was changed; 37 rows in 5 tables would come back" in dry.stdout,
        "the dry run says what would come back",
    )
    undo = subprocess.run(
        [args.softdel, "undelete", "--database-url", args.direct_url, "--txid", str(txid)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    say(undo.stdout + undo.stderr)
    check_eq(undo.returncode, 0, "softdel undelete succeeded")
    check("restored 37 rows in 5 tables, in one transaction" in undo.stdout, "it says what it did")

    # --- every row is back --------------------------------------------------
    check_eq(counts(direct), before_counts, "the counts match the state before the delete")
    check_eq(integrity(direct), before_integrity, "the integrity checks match")
    check_eq(state(direct), before, "every row is exactly as it was")
    alice = Customer.objects.get(name="alice")
    check_eq(Order.objects.filter(customer=alice, is_active=True).count(), 4, "Django sees her orders")
    check_eq(
        Refund.objects.filter(payment__order__customer=alice).count(), 12, "and her refunds"
    )
    newcomer = Customer.objects.create(name="dave")
    check(newcomer.pk > alice.pk, "a new customer gets a fresh id")

    direct.conn.close()
    connection.close()
    say(f"django incident: {scenario.CHECKS} checks passed")


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
        say(f"django incident: FAILED: {e}")
        sys.exit(1)
    except Exception:
        traceback.print_exc()
        say("django incident: FAILED with an unexpected error")
        sys.exit(1)


if __name__ == "__main__":
    main()
