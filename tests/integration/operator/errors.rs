//! Bad input to the operator's commands: a clear error, and nothing changed.

use super::{direct_url, journal_state, snapshot, softdel};
use crate::common::{cluster, connect, fresh_database};
use crate::softdelete::shop::Shop;

/// The shop after one soft delete through the proxy: operation 1.
async fn shop_with_a_soft_delete() -> Shop {
    let shop = Shop::open().await;
    shop.client()
        .await
        .batch_execute("DELETE FROM orders WHERE id = 14")
        .await
        .unwrap();
    shop
}

#[tokio::test]
async fn bad_selections_are_clear_errors_that_change_nothing() {
    let shop = shop_with_a_soft_delete().await;
    let url = direct_url(&shop);
    let run = softdel(&["undelete", "--database-url", &url, "1"]).await;
    assert!(run.ok, "{run:?}");
    let before = snapshot(&shop).await;
    let journal = journal_state(&shop).await;

    for (args, message) in [
        (
            vec!["99"],
            "there is no operation 99 in the journal (see `softdel log`)",
        ),
        (
            vec!["2"],
            "operation 2 is \"undelete\", not a soft or journaled delete: it has no rows to undelete",
        ),
        (vec!["1", "99"], "there is no operation 99 in the journal"),
        (
            vec!["--txid", "12345"],
            "the journal has no soft or journaled delete in transaction 12345",
        ),
        (
            vec!["--table", "orders", "--since", "last tuesday-ish"],
            "--since: \"last tuesday-ish\" is not a time PostgreSQL can read",
        ),
        (
            vec![
                "--table",
                "orders",
                "--since",
                "2020-01-01",
                "--until",
                "then",
            ],
            "--until: \"then\" is not a time PostgreSQL can read",
        ),
        (
            vec![],
            "say what to undelete: OP_ID..., --txid X, or --table T --since TS",
        ),
    ] {
        let mut all = vec!["undelete", "--database-url", &url];
        all.extend(args.iter().copied());
        let run = softdel(&all).await;
        assert!(!run.ok, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains(message),
            "{args:?}: {message:?} in\n{run:?}"
        );
    }
    // --table without --since is refused before anything runs.
    let run = softdel(&["undelete", "--database-url", &url, "--table", "orders"]).await;
    assert!(!run.ok && run.stderr.contains("--since"), "{run:?}");
    for (args, message) in [
        (
            vec!["log", "--op", "99"],
            "there is no operation 99 in the journal",
        ),
        (
            vec!["log", "--action", "erase"],
            "--action \"erase\" is not an action the journal records",
        ),
    ] {
        let mut all = args.clone();
        all.extend(["--database-url", &url]);
        let run = softdel(&all).await;
        assert!(!run.ok, "{args:?}: {run:?}");
        assert!(run.stderr.contains(message), "{args:?}: {run:?}");
    }
    assert_eq!(snapshot(&shop).await, before);
    assert_eq!(journal_state(&shop).await, journal);
}

#[tokio::test]
async fn an_unreachable_database_or_a_missing_or_newer_journal_is_a_clear_error() {
    let run = softdel(&[
        "undelete",
        "--database-url",
        "postgres://postgres:secret@127.0.0.1:1/shop",
        "1",
    ])
    .await;
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains("cannot connect to postgres://postgres@127.0.0.1:1/shop"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("secret"), "the password is not shown");

    let database = fresh_database("nojournal");
    let url = cluster().url(&database);
    for args in [
        vec!["undelete", "1"],
        vec!["purge", "--older-than", "1d"],
        vec!["log"],
    ] {
        let mut all = args.clone();
        all.extend(["--database-url", &url]);
        let run = softdel(&all).await;
        assert!(!run.ok, "{args:?}");
        assert!(
            run.stderr.contains(
                "the journal schema is not installed in this database: run `softdel init --database-url URL`"
            ),
            "{args:?}: {run:?}"
        );
    }

    let direct = connect(&url).await.unwrap();
    softdel::journal::install(&direct).await.unwrap();
    direct
        .batch_execute("INSERT INTO softdel.version (version) VALUES (99)")
        .await
        .unwrap();
    let run = softdel(&["purge", "--older-than", "1d", "--database-url", &url]).await;
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains("version 99, newer than this softdel's (6): upgrade softdel"),
        "{run:?}"
    );
}

#[tokio::test]
async fn init_upgrades_a_version_1_journal() {
    let database = fresh_database("upgrade");
    let url = cluster().url(&database);
    let direct = connect(&url).await.unwrap();
    // What version 1 installed.
    direct
        .batch_execute(
            "CREATE SCHEMA softdel;
             CREATE TABLE softdel.version (version integer NOT NULL, installed_at timestamptz NOT NULL DEFAULT now());
             CREATE TABLE softdel.operations (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),
                 txid bigint NOT NULL DEFAULT txid_current(), db_user text NOT NULL DEFAULT session_user,
                 application_name text NOT NULL DEFAULT current_setting('application_name'),
                 database text NOT NULL DEFAULT current_database(), client_addr text, connection_id bigint,
                 table_schema text NOT NULL, table_name text NOT NULL, action text NOT NULL,
                 row_count bigint NOT NULL, sql text NOT NULL, reason text);
             CREATE TABLE softdel.rows (op_id bigint NOT NULL REFERENCES softdel.operations (id) ON DELETE CASCADE,
                 image jsonb NOT NULL);
             INSERT INTO softdel.version VALUES (1);
             INSERT INTO softdel.operations (table_schema, table_name, action, row_count, sql)
                 VALUES ('public', 't', 'journal_delete', 1, 'DELETE FROM t');
             INSERT INTO softdel.rows VALUES (1, '{\"id\": 1}');",
        )
        .await
        .unwrap();
    let run = softdel(&["log", "--database-url", &url]).await;
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains("version 1, but this softdel needs version 6: run `softdel init`"),
        "{run:?}"
    );
    let run = softdel(&["init", "--database-url", &url]).await;
    assert!(run.ok, "{run:?}");
    assert!(
        run.stdout
            .contains("softdel journal upgraded from version 1 to 6"),
        "{run:?}"
    );
    let run = softdel(&["log", "--database-url", &url, "--op", "1"]).await;
    assert!(run.ok, "{run:?}");
    assert!(run.stdout.contains("1 row:"), "{run:?}");
}

#[tokio::test]
async fn a_corrupt_journal_image_is_an_error_never_a_null() {
    let shop = shop_with_a_soft_delete().await;
    // Someone with rights on the journal damages the image.
    shop.direct
        .batch_execute("UPDATE softdel.rows SET image = '\"x\"'::jsonb WHERE op_id = 1")
        .await
        .unwrap();
    let url = direct_url(&shop);
    let before = snapshot(&shop).await;
    let journal = || {
        shop.strings(
            "SELECT id || ' ' || image::text || ' ' || coalesce(restored_by::text, '-') \
             FROM softdel.rows UNION ALL SELECT id || ' ' || action FROM softdel.operations ORDER BY 1",
        )
    };
    let journal_before = journal().await;
    for args in [vec!["undelete", "1"], vec!["log", "--op", "1"]] {
        let mut all = args.clone();
        all.extend(["--database-url", &url]);
        let run = softdel(&all).await;
        assert!(!run.ok, "{args:?}: {run:?}");
        assert!(
            run.stderr
                .contains("of operation 1 is corrupt: its image is \"x\", not a row"),
            "{args:?}: {run:?}"
        );
    }
    assert_eq!(snapshot(&shop).await, before);
    assert_eq!(journal().await, journal_before);
}

/// The proxy's address where the database's belongs (the URL applications
/// use): every operator command says so, plainly, and changes nothing.
/// DATABASE_URL, the applications' variable, is not read.
#[tokio::test]
async fn the_proxy_is_not_taken_for_the_database() {
    let shop = shop_with_a_soft_delete().await;
    let before = (snapshot(&shop).await, journal_state(&shop).await);
    let proxy = shop.url();
    let rules = shop.dir.join("rules.yaml");
    let rules = rules.to_str().unwrap();
    for args in [
        vec!["log"],
        vec!["log", "--op", "1"],
        vec!["undelete", "1"],
        vec!["purge", "--older-than", "1s"],
        vec!["check", "--rules", rules],
        vec!["init"],
    ] {
        let mut all = args.clone();
        all.extend(["--database-url", &proxy]);
        let run = softdel(&all).await;
        assert!(!run.ok, "{args:?}: {run:?}");
        assert_eq!(
            run.stderr,
            format!(
                "softdel: error: {proxy} is the softdel proxy, not PostgreSQL: give the \
                 database's own address (operator commands work on the database itself; \
                 through the proxy their statements would be intercepted like an \
                 application's)\n"
            ),
            "{args:?}"
        );
    }
    assert_eq!((snapshot(&shop).await, journal_state(&shop).await), before);

    // SOFTDEL_DATABASE_URL works as --database-url; DATABASE_URL is not read.
    let direct = direct_url(&shop);
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_softdel"))
            .args(["log", "--op", "1"])
            .env("SOFTDEL_DATABASE_URL", &direct)
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/nothing")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(run.status.success(), "{run:?}");
    assert!(String::from_utf8_lossy(&run.stdout).starts_with("operation:   1\n"));
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_softdel"))
            .arg("log")
            .env_remove("SOFTDEL_DATABASE_URL")
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/nothing")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!run.status.success());
    assert_eq!(
        String::from_utf8_lossy(&run.stderr),
        "softdel: error: which database? give its own address (not the proxy's) with \
         --database-url or SOFTDEL_DATABASE_URL (DATABASE_URL is not read: applications \
         point it at the proxy)\n"
    );
}
