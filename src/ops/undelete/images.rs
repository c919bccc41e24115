//! The journal's images as rows of their table, in SQL.

use crate::ops::catalog::{Table, quote_ident};

/// `FROM unnest($1) ... r`: the images as rows of the table.
pub fn images_as_rows(table: &Table) -> String {
    format!(
        "pg_catalog.unnest($1::text[]) WITH ORDINALITY AS i(image, ord) \
         CROSS JOIN LATERAL pg_catalog.jsonb_populate_record(NULL::{}, i.image::jsonb) AS r",
        table.quoted()
    )
}

pub fn key_match(table: &Table, left: &str, right: &str) -> String {
    table
        .primary_key
        .iter()
        .map(|c| format!("{left}.{c} = {right}.{c}", c = quote_ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ")
}
