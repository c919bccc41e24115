"""A small shop for the Django scenario: customers, their orders, payments,
refunds and audit logs, joined by cascading foreign keys."""
