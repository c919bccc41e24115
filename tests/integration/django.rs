//! The Django ORM through the proxy: cascades soft-deleted, refused and
//! journaled in one transaction.
