//! A peer client library's own test suite as a differential check:
//! psycopg2's (libpq underneath), from its source distribution, run
//! straight against PostgreSQL and through softdel. Every test must end
//! the same way both times (passed, failed, skipped): whatever fails
//! directly fails for reasons of its own, and whatever differs is
//! softdel's doing. scripts/install-deps.sh puts the suite in
//! .peer/psycopg2/tests, next to psycopg2-binary of the same version.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

use crate::clients::repo;
use crate::common::{TestProxy, cluster};

/// How one test ended: `ok`, `FAIL`, `ERROR`, `skipped`, `expected
/// failure`, ...
type Outcomes = BTreeMap<String, String>;

/// Tests whose outcome differs this often are timing-dependent, not
/// softdel's doing: a difference must hold in every rerun.
const RERUNS: usize = 2;

fn suite_dir() -> std::path::PathBuf {
    repo().join(".peer/psycopg2")
}

/// Runs `tests` (all of them when empty) of the suite against `port`.
async fn run_suite(port: u16, tests: &[String]) -> Outcomes {
    let python = repo().join(".venv/bin/python");
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "unittest", "-v"]);
    if tests.is_empty() {
        cmd.arg("tests.test_suite");
    } else {
        cmd.args(tests);
    }
    cmd.current_dir(suite_dir())
        .env("PSYCOPG2_TESTDB", "psycopg2_test")
        .env("PSYCOPG2_TESTDB_HOST", "127.0.0.1")
        .env("PSYCOPG2_TESTDB_PORT", port.to_string())
        .env("PSYCOPG2_TESTDB_USER", "postgres")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(900), cmd.output())
        .await
        .expect("the suite finished in time")
        .expect("the suite ran");
    let log = String::from_utf8_lossy(&output.stderr);
    let outcomes = outcomes(&log);
    assert!(
        !outcomes.is_empty(),
        "no test ran against port {port}:\n{log}"
    );
    outcomes
}

/// Reads unittest's verbose lines: `name (tests.module.Class.name) ... ok`.
fn outcomes(log: &str) -> Outcomes {
    log.lines()
        .filter_map(|line| {
            let (test, outcome) = line.split_once(" ... ")?;
            let id = test.split_once(" (")?.1.strip_suffix(')')?;
            let outcome = outcome.split(' ').next()?.trim_end_matches(':');
            Some((id.to_owned(), outcome.to_owned()))
        })
        .collect()
}

/// The tests that ended differently, with both outcomes.
fn differences(direct: &Outcomes, through: &Outcomes) -> BTreeMap<String, (String, String)> {
    let missing = || "(did not run)".to_owned();
    direct
        .keys()
        .chain(through.keys())
        .filter_map(|id| {
            let a = direct.get(id).cloned().unwrap_or_else(missing);
            let b = through.get(id).cloned().unwrap_or_else(missing);
            (a != b).then(|| (id.clone(), (a, b)))
        })
        .collect()
}

fn count(outcomes: &Outcomes, outcome: &str) -> usize {
    outcomes.values().filter(|o| *o == outcome).count()
}

#[tokio::test]
async fn psycopg2s_own_suite_ends_the_same_through_softdel() {
    assert!(
        Path::new(&suite_dir().join("tests/__init__.py")).exists(),
        "psycopg2's test suite is missing: run scripts/install-deps.sh"
    );
    cluster()
        .psql("postgres", "DROP DATABASE IF EXISTS psycopg2_test")
        .unwrap();
    cluster()
        .psql("postgres", "CREATE DATABASE psycopg2_test")
        .unwrap();
    let proxy = TestProxy::start().await;
    let direct_port = cluster().port();
    let proxy_port = proxy.addr.port();

    let direct = run_suite(direct_port, &[]).await;
    let through = run_suite(proxy_port, &[]).await;
    let mut differ = differences(&direct, &through);
    for _ in 0..RERUNS {
        if differ.is_empty() {
            break;
        }
        let again: Vec<String> = differ.keys().cloned().collect();
        let direct = run_suite(direct_port, &again).await;
        let through = run_suite(proxy_port, &again).await;
        let still = differences(&direct, &through);
        differ.retain(|id, _| still.contains_key(id));
    }
    println!(
        "psycopg2's suite: {} tests; directly {} passed, {} failed or errors, {} skipped; \
         through softdel {} passed; {} differ",
        direct.len(),
        count(&direct, "ok"),
        count(&direct, "FAIL") + count(&direct, "ERROR"),
        count(&direct, "skipped"),
        count(&through, "ok"),
        differ.len(),
    );
    let failing: Vec<_> = direct
        .iter()
        .filter(|(_, o)| *o == "FAIL" || *o == "ERROR")
        .map(|(id, o)| format!("{id}: {o}"))
        .collect();
    println!("failing both ways (not softdel's doing): {failing:?}");
    assert!(
        differ.is_empty(),
        "tests that end differently through softdel (direct, through): {differ:#?}"
    );
    proxy.stop().await;
}
