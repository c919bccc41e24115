//! `softdel check` lists the views that read hidden tables: PostgreSQL runs
//! their definitions, which the proxy never rewrites.

use super::Pair;

#[tokio::test]
async fn check_lists_the_views_that_read_hidden_tables() {
    let pair = Pair::open().await;
    let direct = crate::common::connect(&crate::common::cluster().url(&pair.soft))
        .await
        .unwrap();
    direct
        .batch_execute(
            "CREATE VIEW big_orders AS SELECT o.* FROM orders o JOIN items i ON i.order_id = o.id;
             CREATE MATERIALIZED VIEW product_names AS SELECT name FROM products;
             CREATE VIEW city_names AS SELECT city FROM customers;",
        )
        .await
        .unwrap();
    let rules = softdel::rules::Rules::parse(super::RULES, std::path::Path::new("r.yaml")).unwrap();
    let report = softdel::ops::check::check(&direct, &rules, std::path::Path::new("r.yaml"))
        .await
        .unwrap();
    let messages: Vec<String> = report
        .tables
        .iter()
        .flat_map(|t| {
            t.findings
                .iter()
                .map(move |f| format!("{:?} {}: {}", f.level, t.rule, f.message))
        })
        .filter(|m| m.contains("view"))
        .collect();
    let expected = [
        "Warning orders (soft, flag is_active): view big_orders reads this table: views are not rewritten, so it shows soft-deleted rows (filter them in its definition)",
        "Warning items (soft, timestamp deleted_at): view big_orders reads this table: views are not rewritten, so it shows soft-deleted rows (filter them in its definition)",
        "Warning products (soft, timestamp deleted_at): materialized view product_names reads this table: views are not rewritten, so it shows soft-deleted rows (filter them in its definition)",
    ];
    assert_eq!(messages, expected);
}
