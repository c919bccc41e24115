#!/usr/bin/env python3
"""An unchanged Django application through softdel: rows deleted in the
admin's way are gone for it, and back after `softdel undelete`.

Usage:
  hiding.py delete   PROXY_URL DIRECT_URL HARD_URL SOFTDEL RULES STATE [--server-side-binding]
  hiding.py restored PROXY_URL DIRECT_URL HARD_URL SOFTDEL RULES STATE [--server-side-binding]

The models (app `catalog`) know nothing of soft deletes. Two databases get
the same tables and rows: `default` is PROXY_URL, through softdel, whose
tables get marker columns behind Django's back (through DIRECT_URL, the
same database bypassing the proxy); `hard` is HARD_URL, a plain database
where deletes are real. The proxy must run with these rules:

    tables:
      catalog_customer:   {timestamp: deleted_at}
      catalog_order:      {timestamp: deleted_at}
      catalog_order_tags: {timestamp: deleted_at}
      catalog_item:       {flag: live}
      catalog_product:    {timestamp: deleted_at}
      catalog_tag:        {timestamp: deleted_at}

`delete`: creates the tables and rows in both, deletes a product, a tag
and a customer's only order (one transaction), then a customer with the
ORM's cascade (another, as the admin does), the same on both, and after
each asks both databases the same ORM questions: every answer must be the
same. Saves the answers from before the customer's delete in STATE.
The caller then runs `softdel undelete --txid` of the customer's delete.
`restored`: every answer through softdel is again the one saved in STATE.

Exits 1 on the first failed check (after printing every differing answer
and the SQL it came from).
"""

import argparse
import json
import subprocess
import sys
import traceback

from scenario import Direct, Failed, StatementLog, check, check_eq, database_settings, say

import scenario  # noqa: E402  (for its check counter)

import django  # noqa: E402
from django.conf import settings  # noqa: E402

TABLES = {
    # table: the marker column softdel knows and Django does not
    "catalog_customer": "deleted_at timestamptz",
    "catalog_order": "deleted_at timestamptz",
    "catalog_order_tags": "deleted_at timestamptz",
    "catalog_item": "live boolean NOT NULL DEFAULT true",
    "catalog_product": "deleted_at timestamptz",
    "catalog_tag": "deleted_at timestamptz",
}
# The rows each table has marked, read straight from the database.
MARKED = {
    table: f"SELECT id FROM {table} WHERE "
    + ("NOT live" if table == "catalog_item" else "deleted_at IS NOT NULL")
    + " ORDER BY id"
    for table in TABLES
}


def configure(args):
    settings.configure(
        DEBUG=False,
        INSTALLED_APPS=["catalog"],
        DATABASES={
            "default": database_settings(args.proxy_url, args.server_side_binding),
            "hard": database_settings(args.hard_url, args.server_side_binding),
        },
        USE_TZ=True,
        TIME_ZONE="UTC",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


class Rollback(Exception):
    pass


def normal(value):
    """Answers as JSON has them (tuples as lists, decimals as text), so that
    the saved ones compare with new ones."""
    return json.loads(json.dumps(value, default=str))


def questions(ids):
    """name -> function(alias) -> answer: what the application asks."""
    from django.db import connections, transaction
    from django.db.models import (
        Avg,
        Count,
        Exists,
        F,
        Max,
        OuterRef,
        Q,
        Subquery,
        Sum,
        Window,
    )
    from django.db.models.functions import RowNumber

    from catalog.models import Customer, Item, Order, Product, Tag

    Through = Order.tags.through

    def get(queryset, **lookup):
        try:
            obj = queryset.get(**lookup)
        except queryset.model.DoesNotExist:
            return "DoesNotExist"
        return obj.pk

    def held(model, pk, alias):
        """An instance the application still holds from before the delete."""
        obj = model(pk=pk)
        obj._state.db = alias
        obj._state.adding = False
        return obj

    def rolled_back(alias, work):
        result = []
        try:
            with transaction.atomic(using=alias):
                result.append(work())
                raise Rollback
        except Rollback:
            pass
        return result[0]

    def in_transaction(alias, work):
        with transaction.atomic(using=alias):
            return work()

    def cursor(alias, sql):
        with connections[alias].cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    qs = {
        # Lists.
        "Customer.objects.all()": lambda a: [
            (c.pk, c.name, c.city) for c in Customer.objects.using(a).order_by("pk")
        ],
        "Order.objects.values_list()": lambda a: list(
            Order.objects.using(a).order_by("pk").values_list("pk", "customer_id", "label", "note")
        ),
        "Item.objects.values()": lambda a: list(
            Item.objects.using(a).order_by("pk").values("pk", "order_id", "product_id", "qty")
        ),
        "Product.objects.all()": lambda a: [
            (p.pk, p.name, p.price) for p in Product.objects.using(a).order_by("pk")
        ],
        "Tag.objects.all()": lambda a: [
            (t.pk, t.name) for t in Tag.objects.using(a).order_by("pk")
        ],
        "Order.tags.through.objects.all()": lambda a: list(
            Through.objects.using(a).order_by("pk").values_list("order_id", "tag_id")
        ),
        "first() and last()": lambda a: [
            Customer.objects.using(a).order_by("pk").first().name,
            Order.objects.using(a).order_by("pk").last().label,
            Item.objects.using(a).order_by("-qty", "pk").first().pk,
        ],
        "in_bulk()": lambda a: sorted(
            Customer.objects.using(a).in_bulk(ids["customers"]).keys()
        ),
        "iterator() (a server-side cursor)": lambda a: list(
            Item.objects.using(a).order_by("pk").values_list("pk", flat=True).iterator(chunk_size=3)
        ),
        "iterator() in a transaction": lambda a: in_transaction(
            a,
            lambda: [
                o.label
                for o in Order.objects.using(a).order_by("pk").iterator(chunk_size=2)
            ],
        ),
        "raw()": lambda a: [
            c.name
            for c in Customer.objects.using(a).raw(
                "SELECT id, name FROM catalog_customer ORDER BY id"
            )
        ],
        "cursor: SELECT count(*) ... JOIN": lambda a: cursor(
            a,
            "SELECT count(*), count(DISTINCT o.id) FROM catalog_order o "
            "JOIN catalog_item i ON i.order_id = o.id",
        ),
        # Counts.
        "count()": lambda a: [
            m.objects.using(a).count() for m in (Customer, Order, Item, Product, Tag, Through)
        ],
        "distinct().count() across the many-to-many": lambda a: Tag.objects.using(a)
        .filter(orders__customer__city="oslo")
        .distinct()
        .count(),
        # Filters.
        "filter() across a foreign key": lambda a: list(
            Order.objects.using(a)
            .filter(customer__name="alice")
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
        "filter() by a deleted parent's id": lambda a: Order.objects.using(a)
        .filter(customer_id=ids["alice"])
        .count(),
        "filter() two joins away": lambda a: list(
            Item.objects.using(a)
            .filter(order__customer__city="oslo")
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
        "filter() by a deleted product": lambda a: Item.objects.using(a)
        .filter(product__name="lamp")
        .count(),
        "filter() across the many-to-many": lambda a: list(
            Order.objects.using(a)
            .filter(tags__name__in=["gift", "rush"])
            .order_by("pk", "tags__name")
            .values_list("pk", "tags__name")
        ),
        "filter(Q | Q).distinct()": lambda a: list(
            Order.objects.using(a)
            .filter(Q(customer__city="oslo") | Q(items__qty=1))
            .distinct()
            .order_by("pk")
            .values_list("pk", flat=True)
        ),
        "exclude() across relations": lambda a: list(
            Customer.objects.using(a)
            .exclude(order__items__qty__gte=3)
            .order_by("pk")
            .values_list("name", flat=True)
        ),
        "filter(order__isnull=True) (an outer join)": lambda a: list(
            Customer.objects.using(a)
            .filter(order__isnull=True)
            .order_by("pk")
            .values_list("name", flat=True)
        ),
        "filter(items__isnull=True)": lambda a: list(
            Order.objects.using(a)
            .filter(items__isnull=True)
            .order_by("pk")
            .values_list("label", flat=True)
        ),
        "values_list() across a reverse foreign key": lambda a: list(
            Customer.objects.using(a)
            .order_by("name", "order__label")
            .values_list("name", "order__label")
        ),
        "filter(pk__in=subquery)": lambda a: list(
            Customer.objects.using(a)
            .filter(pk__in=Order.objects.filter(items__qty__gte=2).values("customer_id"))
            .order_by("pk")
            .values_list("name", flat=True)
        ),
        "union()": lambda a: sorted(
            Customer.objects.using(a)
            .filter(city="oslo")
            .values_list("name", flat=True)
            .union(
                Customer.objects.using(a)
                .filter(order__label__endswith="-1")
                .values_list("name", flat=True)
            )
        ),
        "values().distinct()": lambda a: list(
            Order.objects.using(a)
            .order_by("customer__city")
            .values_list("customer__city", flat=True)
            .distinct()
        ),
        # get().
        "get(pk) of each customer": lambda a: [
            get(Customer.objects.using(a), pk=pk) for pk in ids["customers"]
        ],
        "get(pk) of each order": lambda a: [
            get(Order.objects.using(a), pk=pk) for pk in ids["orders"]
        ],
        "get(pk) of each item": lambda a: [
            get(Item.objects.using(a), pk=pk) for pk in ids["items"]
        ],
        "get(name=...)": lambda a: [
            get(Customer.objects.using(a), name=n) for n in ("alice", "bob", "carol", "dave")
        ]
        + [get(Product.objects.using(a), name="lamp"), get(Tag.objects.using(a), name="gift")],
        "refresh_from_db() of a held instance": lambda a: [
            refreshed(held(Customer, pk, a)) for pk in ids["customers"]
        ],
        # Related managers.
        "customer.order_set": lambda a: [
            (c.name, [o.label for o in c.order_set.order_by("pk")])
            for c in Customer.objects.using(a).order_by("pk")
        ],
        "order.items and order.tags": lambda a: [
            (
                o.label,
                list(o.items.order_by("pk").values_list("pk", "qty")),
                [t.name for t in o.tags.order_by("pk")],
                o.items.count(),
                o.tags.exists(),
            )
            for o in Order.objects.using(a).order_by("pk")
        ],
        "product.item_set and tag.orders": lambda a: [
            (p.name, list(p.item_set.order_by("pk").values_list("pk", flat=True)))
            for p in Product.objects.using(a).order_by("pk")
        ]
        + [
            (t.name, list(t.orders.order_by("pk").values_list("label", flat=True)))
            for t in Tag.objects.using(a).order_by("pk")
        ],
        "related managers of held deleted instances": lambda a: [
            list(held(Customer, ids["alice"], a).order_set.values_list("pk", flat=True)),
            [
                (
                    list(held(Order, pk, a).items.values_list("pk", flat=True)),
                    list(held(Order, pk, a).tags.values_list("name", flat=True)),
                )
                for pk in ids["alice_orders"]
            ],
            list(held(Product, ids["lamp"], a).item_set.values_list("pk", flat=True)),
            list(held(Tag, ids["gift"], a).orders.values_list("pk", flat=True)),
        ],
        # prefetch_related and select_related.
        "prefetch_related()": lambda a: [
            (
                c.name,
                sorted(
                    (
                        o.label,
                        sorted((i.pk, i.qty, i.product.name) for i in o.items.all()),
                        sorted(t.name for t in o.tags.all()),
                    )
                    for o in c.order_set.all()
                ),
            )
            for c in Customer.objects.using(a)
            .prefetch_related("order_set__items__product", "order_set__tags")
            .order_by("pk")
        ],
        "prefetch_related() from the other side": lambda a: [
            (t.name, sorted((o.label, o.customer.name) for o in t.orders.all()))
            for t in Tag.objects.using(a).prefetch_related("orders__customer").order_by("pk")
        ],
        "select_related()": lambda a: [
            (i.pk, i.qty, i.order.label, i.order.customer.name, i.product.name)
            for i in Item.objects.using(a)
            .select_related("order__customer", "product")
            .order_by("pk")
        ],
        "select_related() with filter()": lambda a: [
            (o.label, o.customer.city)
            for o in Order.objects.using(a)
            .select_related("customer")
            .filter(customer__city="oslo")
            .order_by("pk")
        ],
        # Aggregates.
        "aggregate()": lambda a: Item.objects.using(a).aggregate(
            total=Sum("qty"), n=Count("pk"), avg=Avg("qty"), top=Max("pk")
        ),
        "aggregate() across relations": lambda a: Customer.objects.using(a).aggregate(
            orders=Count("order", distinct=True), qty=Sum("order__items__qty")
        ),
        "values().annotate(Count, Sum)": lambda a: list(
            Order.objects.using(a)
            .values("customer__name")
            .annotate(n=Count("pk", distinct=True), qty=Sum("items__qty"))
            .order_by("customer__name")
        ),
        "annotate(Count) on instances": lambda a: [
            (c.name, c.n, c.qty)
            for c in Customer.objects.using(a)
            .annotate(n=Count("order", distinct=True), qty=Sum("order__items__qty"))
            .order_by("pk")
        ],
        "values(pk, name).annotate(Count, Sum)": lambda a: list(
            Customer.objects.using(a)
            .values("pk", "name")
            .annotate(n=Count("order", distinct=True), qty=Sum("order__items__qty"))
            .order_by("pk")
            .values_list("name", "n", "qty")
        ),
        "values(pk, name).annotate(Count) across the many-to-many": lambda a: list(
            Tag.objects.using(a)
            .values("pk", "name")
            .annotate(n=Count("orders"))
            .order_by("pk")
            .values_list("name", "n")
        ),
        "values(name).annotate(Count, Sum)": lambda a: list(
            Customer.objects.using(a)
            .values("name")
            .annotate(n=Count("order", distinct=True), qty=Sum("order__items__qty"))
            .order_by("name")
            .values_list("name", "n", "qty")
        ),
        "values(name).annotate(Count) across the many-to-many": lambda a: list(
            Tag.objects.using(a)
            .values("name")
            .annotate(n=Count("orders"))
            .order_by("name")
            .values_list("name", "n")
        ),
        "values(name).annotate(Count).filter() (HAVING)": lambda a: list(
            Product.objects.using(a)
            .values("name")
            .annotate(n=Count("item"))
            .filter(n__gte=2)
            .order_by("name")
            .values_list("name", "n")
        ),
        "annotate(Count) across the many-to-many": lambda a: [
            (t.name, t.n)
            for t in Tag.objects.using(a).annotate(n=Count("orders")).order_by("pk")
        ],
        "annotate(Count).filter() (HAVING)": lambda a: list(
            Product.objects.using(a)
            .annotate(n=Count("item"))
            .filter(n__gte=2)
            .order_by("pk")
            .values_list("name", "n")
        ),
        "annotate(Exists(OuterRef))": lambda a: list(
            Customer.objects.using(a)
            .annotate(has=Exists(Order.objects.filter(customer=OuterRef("pk"))))
            .order_by("pk")
            .values_list("name", "has")
        ),
        "annotate(Subquery(OuterRef))": lambda a: list(
            Customer.objects.using(a)
            .annotate(
                last=Subquery(
                    Order.objects.filter(customer=OuterRef("pk"))
                    .order_by("-pk")
                    .values("label")[:1]
                )
            )
            .order_by("pk")
            .values_list("name", "last")
        ),
        "annotate(Window)": lambda a: list(
            Item.objects.using(a)
            .annotate(n=Window(RowNumber(), partition_by=[F("order_id")], order_by=F("pk").asc()))
            .order_by("pk")
            .values_list("pk", "n")
        ),
        # exists().
        "exists()": lambda a: [
            Customer.objects.using(a).filter(name="alice").exists(),
            Order.objects.using(a).filter(customer_id=ids["alice"]).exists(),
            Item.objects.using(a).filter(product__name="lamp").exists(),
            Customer.objects.using(a).filter(order__items__product__name="lamp").exists(),
            Through.objects.using(a).filter(tag__name="gift").exists(),
            Customer.objects.using(a).exists(),
        ],
        # Writes that reach only deleted rows change nothing.
        "update() of deleted rows": lambda a: [
            Order.objects.using(a).filter(customer__name="alice").update(note="touched"),
            Item.objects.using(a).filter(product__name="lamp").update(qty=99),
            Order.objects.using(a).filter(pk__in=ids["alice_orders"]).update(note=F("label")),
        ],
        "delete() of deleted rows (rolled back)": lambda a: rolled_back(
            a, lambda: Customer.objects.using(a).filter(pk=ids["alice"]).delete()
        ),
        "get_or_create() of a deleted customer (rolled back)": lambda a: rolled_back(
            a,
            lambda: [
                Customer.objects.using(a).get_or_create(name="alice", defaults={"city": "oslo"})[1],
                Customer.objects.using(a).filter(name="alice").count(),
            ],
        ),
        "select_for_update()": lambda a: in_transaction(
            a,
            lambda: list(
                Customer.objects.using(a)
                .select_for_update()
                .order_by("pk")
                .values_list("name", flat=True)
            ),
        ),
        "select_for_update(of=self) with select_related()": lambda a: in_transaction(
            a,
            lambda: [
                (i.pk, i.order.label)
                for i in Item.objects.using(a)
                .select_related("order")
                .select_for_update(of=("self",))
                .order_by("pk")
            ],
        ),
    }
    return qs


def refreshed(obj):
    try:
        obj.refresh_from_db()
    except type(obj).DoesNotExist:
        return "DoesNotExist"
    return obj.name


def ask(qs, alias, log):
    """Every question's answer on `alias`, and the statements each sent."""
    from django.db import connections

    answers, statements = {}, {}
    for name, question in qs.items():
        mark = log.mark()
        with connections[alias].execute_wrapper(log):
            try:
                answers[name] = normal(question(alias))
            except Exception as e:
                cause = e.__cause__ or e
                answers[name] = {
                    "error": f"{type(cause).__name__} {getattr(cause, 'sqlstate', '')}".strip()
                }
        statements[name] = log.since(mark)
    return answers, statements


def compare(answers, expected, statements, what):
    """Checks every answer, printing all that differ before failing."""
    differ = [name for name in expected if answers.get(name) != expected[name]]
    for name in differ:
        say(f"  DIFFERS: {name}\n    {what}: {expected[name]!r}")
        say(f"    through softdel: {answers.get(name)!r}")
        for e in statements.get(name, []):
            outcome = f"ERROR {e['error']}" if e["error"] else e["tag"]
            say(f"      {e['wire']}\n        -> {outcome}")
    if differ:
        raise Failed(f"{len(differ)} of {len(expected)} answers differ from {what}: {differ}")
    check(True, f"all {len(expected)} answers through softdel equal {what}")


def same_on_both(qs, log, what):
    """Every question through softdel, checked against the plain database."""
    answers, statements = ask(qs, "default", log)
    compare(answers, ask(qs, "hard", StatementLog())[0], statements, what)
    return answers


def marked(direct):
    return {table: [r[0] for r in direct.rows(sql)] for table, sql in MARKED.items()}


def populate(alias):
    from catalog.models import Customer, Item, Order, Product, Tag

    products = {
        name: Product.objects.using(alias).create(name=name, price=price)
        for name, price in [
            ("lamp", "12.50"),
            ("desk", "120.00"),
            ("chair", "45.90"),
            ("pen", "1.20"),
        ]
    }
    tags = {name: Tag.objects.using(alias).create(name=name) for name in ("gift", "rush", "bulk")}
    plan = {
        "alice": ("oslo", [["lamp", "pen"], ["desk"], ["chair", "pen", "lamp"]]),
        "bob": ("paris", [["lamp"], ["pen", "chair"]]),
        "carol": ("oslo", [["desk", "desk"], ["pen"]]),
        "dave": ("paris", [["lamp", "chair"]]),
    }
    for name, (city, orders) in plan.items():
        customer = Customer.objects.using(alias).create(name=name, city=city)
        for i, products_of in enumerate(orders, start=1):
            order = Order.objects.using(alias).create(customer=customer, label=f"{name}-{i}")
            for j, product in enumerate(products_of, start=1):
                Item.objects.using(alias).create(
                    order=order, product=products[product], qty=i + j - 1
                )
            order.tags.set([tags[t] for t in ("gift", "rush", "bulk")[: 1 + (i + len(name)) % 3]])


def keys(alias):
    """The keys the questions need."""
    from catalog.models import Customer, Item, Order, Product, Tag

    def pks(queryset):
        return list(queryset.using(alias).order_by("pk").values_list("pk", flat=True))

    return {
        "customers": pks(Customer.objects),
        "orders": pks(Order.objects),
        "items": pks(Item.objects),
        "alice": Customer.objects.using(alias).get(name="alice").pk,
        "alice_orders": pks(Order.objects.filter(customer__name="alice")),
        "lamp": Product.objects.using(alias).get(name="lamp").pk,
        "gift": Tag.objects.using(alias).get(name="gift").pk,
    }


def delete_phase(args):
    from django.db import connections, transaction

    from catalog.models import Customer, Item, Order, Product, Tag

    direct = Direct(args.direct_url)
    binding = "server-side" if args.server_side_binding else "client-side"
    say(f"django {django.get_version()}, {binding} binding")

    say("setup: the same tables on both databases; the marker columns only behind softdel")
    for alias in ("default", "hard"):
        with connections[alias].schema_editor() as editor:
            for model in (Customer, Product, Tag, Order, Item):
                editor.create_model(model)
    for table, column in TABLES.items():
        direct.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
    init = subprocess.run(
        [args.softdel, "init", "--database-url", args.direct_url, "--rules", args.rules],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    say(init.stdout + init.stderr)
    check_eq(init.returncode, 0, "softdel init --rules installed the guard")
    for alias in ("default", "hard"):
        populate(alias)
    ids = keys("default")
    check_eq(ids, keys("hard"), "both databases have the same rows under the same keys")
    qs = questions(ids)
    log = StatementLog()
    untouched = same_on_both(qs, log, "the same question on the plain database")
    check(all(v == [] for v in marked(direct).values()), "nothing is marked yet")

    say("part 1: a product, a tag and dave's only order deleted, in one transaction")
    for alias in ("default", "hard"):
        with transaction.atomic(using=alias):
            Product.objects.using(alias).filter(name="lamp").delete()
            Tag.objects.using(alias).get(name="gift").delete()
            Order.objects.using(alias).filter(customer__name="dave").delete()
    before = same_on_both(qs, log, "the plain database's, really deleted")
    check(before != untouched, "the deletes changed the answers")
    part1 = marked(direct)
    check(
        all(part1[t] for t in TABLES if t != "catalog_customer"),
        f"rows marked, not removed: {part1}",
    )

    say("part 2: the admin deletes alice: the ORM's cascade, in one transaction")
    first_op = direct.last_op()
    results = {}
    for alias in ("default", "hard"):
        mark = log.mark()
        with connections[alias].execute_wrapper(log), transaction.atomic(using=alias):
            results[alias] = Customer.objects.using(alias).get(name="alice").delete()
        if alias == "default":
            sent = log.since(mark)
    for e in sent:
        say(f"    {e['wire']}\n      -> {e['error'] or e['tag']}")
    say(f"  Django returned {results['default']!r}")
    check_eq(results["default"], results["hard"], "Django's counts equal the real delete's")
    check(results["default"][0] > 5, "the cascade reached several tables")
    ops = direct.ops_since(first_op)
    check_eq(len({op[1] for op in ops}), 1, "the journal recorded the cascade in one transaction")
    check_eq(
        sorted(op[3] for op in ops),
        ["catalog_customer", "catalog_item", "catalog_order", "catalog_order_tags"],
        "one soft delete per table the cascade reached",
    )
    check(all(op[4] == "soft_delete" for op in ops), "every one a soft delete")
    after = marked(direct)
    check(
        all(
            set(part1[t]) < set(after[t])
            for t in TABLES
            if t not in ("catalog_product", "catalog_tag")
        ),
        "alice's rows are marked, still in the tables",
    )
    answers = same_on_both(qs, log, "the plain database's, really deleted")
    differ = sorted(name for name in before if answers[name] != before[name])
    say(f"  answers the delete changed: {len(differ)} of {len(before)}")
    check(len(differ) >= len(before) // 2, "most answers changed with the delete")

    with open(args.state, "w") as f:
        json.dump({"ids": ids, "before": before, "marked": part1, "txid": ops[0][1]}, f)
    say(f"  the cascade's transaction: {ops[0][1]}")
    direct.conn.close()


def restored_phase(args):
    with open(args.state) as f:
        state = json.load(f)
    direct = Direct(args.direct_url)
    say("after softdel undelete --txid: alice and her cascade are back")
    check_eq(marked(direct), state["marked"], "only part 1's rows are still marked")
    qs = questions(state["ids"])
    answers, statements = ask(qs, "default", StatementLog())
    compare(answers, state["before"], statements, "the answers before alice's delete")
    direct.conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=["delete", "restored"])
    parser.add_argument("proxy_url")
    parser.add_argument("direct_url")
    parser.add_argument("hard_url")
    parser.add_argument("softdel")
    parser.add_argument("rules")
    parser.add_argument("state")
    parser.add_argument("--server-side-binding", action="store_true")
    args = parser.parse_args()
    try:
        configure(args)
        if args.phase == "delete":
            delete_phase(args)
        else:
            restored_phase(args)
        from django.db import connections

        connections.close_all()
    except Failed as e:
        say(f"django hiding ({args.phase}): FAILED: {e}")
        sys.exit(1)
    except Exception:
        traceback.print_exc()
        say(f"django hiding ({args.phase}): FAILED with an unexpected error")
        sys.exit(1)
    say(f"django hiding ({args.phase}): {scenario.CHECKS} checks passed")


if __name__ == "__main__":
    main()
