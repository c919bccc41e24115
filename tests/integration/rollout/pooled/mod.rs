//! softdel in front of a real PgBouncer in transaction pooling, whose one
//! server connection (pool size 1) every client shares: what each client
//! sees stays its own (refusals, hidden rows, transactions, exemptions,
//! what observe mode journals);
//! what prepared statements can and cannot do there; cancel requests when
//! several softdel instances share the pooler; and why the pooler goes
//! behind softdel, not in front of it.

mod instances;
mod prepared;
mod sharing;

use std::time::Duration;

use tokio_postgres::{Client, SimpleQueryMessage};

use crate::common::pgbouncer::{Bouncer, BouncerOptions, backend_pid};
use crate::common::{cluster, connect};
use crate::operator::softdel;
use crate::softdelete::shop::{RULES, Shop};

/// The shop's rules, with migration jobs exempt.
fn rules() -> String {
    format!("{RULES}exempt:\n  applications: [\"migrate-*\"]\n")
}

/// A shop whose proxy's upstream is a PgBouncer in transaction pooling.
struct Pooled {
    shop: Shop,
    _bouncer: Bouncer,
}

impl Pooled {
    /// One server connection for every client.
    async fn open() -> Pooled {
        Pooled::open_with(BouncerOptions::default()).await
    }

    async fn open_with(options: BouncerOptions) -> Pooled {
        Pooled::start(options, rules(), false).await
    }

    /// Every rule observed (`mode: observe`), the guard installed from
    /// them, and the proxy recording in the journal.
    async fn observing() -> Pooled {
        let observed = rules().replace("defaults:\n", "defaults:\n  mode: observe\n");
        let p = Pooled::start(BouncerOptions::default(), observed.clone(), true).await;
        p.shop.install_guard(&observed).await;
        p
    }

    async fn start(options: BouncerOptions, rules: String, journal_url: bool) -> Pooled {
        let bouncer = Bouncer::start(&cluster().addr(), options).await;
        let upstream = bouncer.addr.to_string();
        let shop = Shop::open_with(|config, database| {
            let shops = config.rules.as_ref().expect("the shop's rules file");
            let path = shops.with_file_name("pooled.yaml");
            std::fs::write(&path, rules).unwrap();
            config.rules = Some(path);
            config.upstream = upstream;
            if journal_url {
                config.journal_url = Some(cluster().url(database));
            }
        })
        .await;
        Pooled {
            shop,
            _bouncer: bouncer,
        }
    }

    /// A client through softdel and the pooler, as `application`.
    async fn client(&self, application: &str) -> Client {
        let url = format!("{}&application_name={application}", self.shop.url());
        connect(&url).await.unwrap()
    }

    /// Two clients, as `first` and `second`, served by one server connection.
    async fn sharing(&self, first: &str, second: &str) -> (Client, Client) {
        let (a, b) = (self.client(first).await, self.client(second).await);
        let pid = backend_pid(&a).await;
        assert_eq!(backend_pid(&b).await, pid, "one server connection");
        (a, b)
    }
}

/// The first column of each row of a simple query.
async fn column(client: &Client, sql: &str) -> Vec<String> {
    let messages = client.simple_query(sql).await.expect(sql);
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("NULL").to_owned()),
            _ => None,
        })
        .collect()
}

/// The ids of orders 11 to 13 that `statement` (bounds `$1` and `$2`)
/// reads through `client`, in the extended protocol.
async fn eleven_to_thirteen<T>(client: &Client, statement: &T) -> Vec<i32>
where
    T: tokio_postgres::ToStatement + ?Sized,
{
    let rows = client.query(statement, &[&11i32, &13i32]).await.unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// What `softdel log` shows was done, oldest first, one line each:
/// action, table, rows, user, application_name, path.
async fn journal(shop: &Shop) -> Vec<String> {
    let url = cluster().url(&shop.database);
    let log = softdel(&["log", "--database-url", &url, "--json"]).await;
    assert!(log.ok, "{log:?}");
    let mut lines: Vec<String> = log
        .stdout
        .lines()
        .map(|line| {
            let op: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = |key: &str| op[key].as_str().unwrap_or("-").to_owned();
            format!(
                "{} {} {} by {} as {} via {}",
                text("action"),
                text("table"),
                op["row_count"],
                text("db_user"),
                text("application_name"),
                text("path"),
            )
        })
        .collect();
    lines.reverse();
    lines
}

/// Runs `f` while `holder` holds the only server connection in a
/// transaction: `f` must wait until `release` ends it, then finish.
async fn waits_for<T: Send + 'static>(
    holder: &Client,
    release: &str,
    f: impl Future<Output = T> + Send + 'static,
) -> T {
    let waiting = tokio::spawn(f);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "it ran while another client's transaction held the server connection"
    );
    holder.batch_execute(release).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("it runs once the transaction ends")
        .unwrap()
}
