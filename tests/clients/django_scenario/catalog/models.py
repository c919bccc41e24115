"""A catalog for the hiding scenario: customers, their orders (tagged,
many to many), the orders' items and the products they name. An ordinary
Django application: no model knows about soft deletes. The marker columns
(`deleted_at`, and `live` on items) are added to the tables behind
Django's back, and softdel hides the rows they mark."""
from django.db import models


class Customer(models.Model):
    name = models.TextField()
    city = models.TextField()


class Product(models.Model):
    name = models.TextField()
    price = models.DecimalField(max_digits=8, decimal_places=2)


class Tag(models.Model):
    name = models.TextField()


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    label = models.TextField()
    note = models.TextField(default="")
    tags = models.ManyToManyField(Tag, related_name="orders")


class Item(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.CASCADE)
    qty = models.IntegerField()
