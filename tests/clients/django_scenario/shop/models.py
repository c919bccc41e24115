from django.db import models
from django.db.models.signals import post_delete
from django.dispatch import receiver


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
    order = models.ForeignKey(Order, on_delete=models.CASCADE)
    message = models.TextField()


class Subscription(models.Model):
    # A soft-deleted table with an ordinary (deferred) foreign key to the
    # really deleted customers table.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    is_active = models.BooleanField(default=True)


# A receiver makes Django fetch audit logs before deleting them (no "fast
# delete"), so a cascade that finds none issues no DELETE on the table.
AUDIT_LOG_DELETIONS = []


@receiver(post_delete, sender=AuditLog, dispatch_uid="shop-auditlog-post-delete")
def audit_log_deleted(sender, instance, **kwargs):
    AUDIT_LOG_DELETIONS.append(instance.pk)
