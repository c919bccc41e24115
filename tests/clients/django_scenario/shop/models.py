from django.db import models


class Customer(models.Model):
    name = models.TextField()


class Order(models.Model):
    # Orders are soft-deleted while their customer is really deleted, so the
    # soft-deleted order keeps pointing at a customer that no longer exists.
    # With a database constraint the commit would fail (see Subscription),
    # hence db_constraint=False here: the ORM still cascades.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, db_constraint=False)
    is_active = models.BooleanField(default=True)
    label = models.TextField()


class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE)
    amount = models.IntegerField()
    deleted_at = models.DateTimeField(null=True)


class Refund(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE)
    amount = models.IntegerField()


class AuditLog(models.Model):
    # Nothing refers to audit logs and no signal listens to them, so Django
    # deletes them without looking for them first (a "fast delete"): every
    # cascade through an order sends a DELETE on shop_auditlog, a block
    # table, which the proxy refuses only when it would remove a row.
    order = models.ForeignKey(Order, on_delete=models.CASCADE)
    message = models.TextField()


class Subscription(models.Model):
    # A soft-deleted table with an ordinary (deferred) foreign key to the
    # really deleted customers table.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    is_active = models.BooleanField(default=True)
