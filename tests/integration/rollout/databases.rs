//! One proxy in front of two databases with different rules: each
//! session gets its database's, `softdel init --rules` installs each
//! database's guard, and `softdel rules check` shows both.

use tokio_postgres::Client;

use crate::common::{TestProxy, cluster, connect, fresh_database};
use crate::operator::softdel;
use crate::softdelete::shop::sqlstate;

const SCHEMA: &str = "
CREATE TABLE orders (id int PRIMARY KEY, is_active boolean NOT NULL DEFAULT true,
                     deleted_at timestamptz);
CREATE TABLE invoices (id int PRIMARY KEY);
INSERT INTO orders (id) SELECT generate_series(1, 20);
INSERT INTO invoices SELECT generate_series(1, 20);
";

/// `{eu}` is replaced by the second database's name.
const RULES: &str = "
defaults:
  max_rows: 50
tables:
  orders: {flag: is_active}
databases:
  {eu}:
    defaults:
      max_rows: 5
    tables:
      orders: {timestamp: deleted_at}
      invoices: {on_delete: block}
";

const GUARDED: &str = "SELECT table_name || ' ' || mode FROM softdel.guarded ORDER BY 1";

struct Database {
    name: String,
    direct: Client,
}

impl Database {
    async fn create(prefix: &str) -> Database {
        let name = fresh_database(prefix);
        let direct = connect(&cluster().url(&name)).await.unwrap();
        direct.batch_execute(SCHEMA).await.unwrap();
        Database { name, direct }
    }

    async fn strings(&self, sql: &str) -> Vec<String> {
        let rows = self.direct.query(sql, &[]).await.expect(sql);
        rows.iter().map(|r| r.get(0)).collect()
    }

    async fn count(&self, sql: &str) -> i64 {
        self.direct.query_one(sql, &[]).await.expect(sql).get(0)
    }
}

#[tokio::test]
async fn each_database_gets_its_own_rules_through_one_proxy() {
    let shop = Database::create("rules_shop").await;
    let eu = Database::create("rules_eu").await;
    let dir = std::env::temp_dir().join(format!("softdel-{}", shop.name));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.yaml");
    std::fs::write(&path, RULES.replace("{eu}", &eu.name)).unwrap();
    let file = path.to_str().unwrap();

    // The effective rules of each.
    let check = softdel(&["rules", "check", file]).await;
    assert!(check.ok, "{check:?}");
    assert!(
        check.stdout.contains(&format!(
            "every database but {eu}:\n  orders: soft, flag is_active, at most 50 rows, deleted rows hidden\n  other tables: allow, at most 50 rows",
            eu = eu.name
        )),
        "{check:?}"
    );
    assert!(
        check.stdout.contains(&format!(
            "database {}:\n  orders: soft, timestamp deleted_at, at most 5 rows, deleted rows hidden\n  invoices: block, at most 5 rows\n",
            eu.name
        )),
        "{check:?}"
    );

    // Each database's guard, from the same file.
    for (db, says) in [
        (
            &shop,
            format!(
                "rules: the top level of {file} (database {} is not listed under databases)",
                shop.name
            ),
        ),
        (&eu, format!("rules: databases.{} of {file}", eu.name)),
    ] {
        let url = cluster().url(&db.name);
        let init = softdel(&["init", "--database-url", &url, "--rules", file]).await;
        assert!(init.ok, "{init:?}");
        assert!(init.stdout.starts_with(&says), "{init:?}");
        let check = softdel(&["check", "--database-url", &url, "--rules", file]).await;
        assert!(check.ok, "{check:?}");
        assert!(check.stdout.starts_with(&says), "{check:?}");
    }
    assert_eq!(shop.strings(GUARDED).await, ["orders soft"]);
    assert_eq!(eu.strings(GUARDED).await, ["invoices block", "orders soft"]);

    // One proxy, both databases.
    let proxy = TestProxy::start_with(|config| config.rules = Some(path.clone())).await;
    let to_shop = connect(&proxy.url("postgres", None, &shop.name))
        .await
        .unwrap();
    let to_eu = connect(&proxy.url("postgres", None, &eu.name))
        .await
        .unwrap();
    let delete = "DELETE FROM orders WHERE id = 1";
    assert_eq!(to_shop.execute(delete, &[]).await.unwrap(), 1);
    assert_eq!(to_eu.execute(delete, &[]).await.unwrap(), 1);
    assert_eq!(
        shop.count("SELECT count(*) FROM orders WHERE NOT is_active AND deleted_at IS NULL")
            .await,
        1,
        "flagged in the shop"
    );
    assert_eq!(
        eu.count("SELECT count(*) FROM orders WHERE is_active AND deleted_at IS NOT NULL")
            .await,
        1,
        "stamped in eu"
    );
    // invoices: blocked in eu only; the limits are each database's.
    let invoice = "DELETE FROM invoices WHERE id = 1";
    assert_eq!(to_shop.execute(invoice, &[]).await.unwrap(), 1);
    let err = to_eu.execute(invoice, &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "SD001");
    let six = "DELETE FROM orders WHERE id BETWEEN 2 AND 7";
    assert_eq!(to_shop.execute(six, &[]).await.unwrap(), 6);
    let err = to_eu.execute(six, &[]).await.unwrap_err();
    assert_eq!(sqlstate(&err), "SD002");
    assert_eq!(eu.count("SELECT count(*) FROM invoices").await, 20);
    assert_eq!(
        eu.count("SELECT count(*) FROM orders WHERE deleted_at IS NOT NULL")
            .await,
        1
    );
    // `softdel rewrite --database` shows the same.
    let rewrite = softdel(&["rewrite", "--rules", file, "--database", &eu.name, invoice]).await;
    assert!(rewrite.stdout.contains("block"), "{rewrite:?}");
    proxy.stop().await;
}
