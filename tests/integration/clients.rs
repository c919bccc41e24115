//! Real client programs through the proxy: psql, psycopg 3 (Python) and
//! node-postgres. scripts/install-deps.sh installs the last two.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::common::{SCRAM_USER, TestProxy, cluster};

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a client program to completion and returns its stdout; a missing
/// program fails the test with the way to install it.
pub async fn run(program: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    assert!(
        program.exists(),
        "{} is missing: run scripts/install-deps.sh",
        program.display()
    );
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(repo())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn client");
    if let Some(input) = stdin {
        use tokio::io::AsyncWriteExt;
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes()).await.unwrap();
    } else {
        drop(child.stdin.take());
    }
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("client finished in time")
        .expect("client ran");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub fn psql() -> PathBuf {
    cluster().bindir().join("psql")
}

#[tokio::test]
async fn psql_script_with_copy_and_errors() {
    let proxy = TestProxy::start().await;
    let url = proxy.url(SCRAM_USER.0, Some(SCRAM_USER.1), "postgres");
    let script = "\
CREATE TEMP TABLE fruit (id int, name text);
\\copy fruit FROM stdin
1\tapple
2\tbanana
\\.
SELECT name FROM fruit ORDER BY id;
\\copy (SELECT id, upper(name) FROM fruit ORDER BY id) TO stdout
BEGIN;
INSERT INTO fruit VALUES (3, 'cherry');
ROLLBACK;
SELECT count(*) AS n FROM fruit;
";
    let (ok, out, err) = run(
        &psql(),
        &[&url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
        Some(script),
    )
    .await;
    assert!(ok, "psql failed: {err}");
    assert_eq!(
        out,
        "CREATE TABLE\nCOPY 2\napple\nbanana\n1\tAPPLE\n2\tBANANA\nBEGIN\nINSERT 0 1\nROLLBACK\n2\n"
    );

    let (ok, _, err) = run(
        &psql(),
        &[&url, "-X", "-v", "ON_ERROR_STOP=1", "-c", "SELECT 1/0"],
        None,
    )
    .await;
    assert!(!ok);
    assert!(err.contains("ERROR:  division by zero"), "{err}");

    let (ok, _, err) = run(
        &psql(),
        &[
            &proxy.url(SCRAM_USER.0, Some("nope"), "postgres"),
            "-X",
            "-c",
            "SELECT 1",
        ],
        None,
    )
    .await;
    assert!(!ok);
    assert!(err.contains("password authentication failed"), "{err}");
}

#[tokio::test]
async fn psycopg3_through_the_proxy() {
    let proxy = TestProxy::start().await;
    let python = repo().join(".venv/bin/python");
    let script = repo().join("tests/clients/psycopg_smoke.py");
    let url = proxy.url(SCRAM_USER.0, Some(SCRAM_USER.1), "postgres");
    let (ok, out, err) = run(&python, &[script.to_str().unwrap(), &url], None).await;
    assert!(ok, "psycopg smoke test failed:\n{out}\n{err}");
    assert!(out.contains("checks passed"), "{out}");
}

#[tokio::test]
async fn node_postgres_through_the_proxy() {
    let proxy = TestProxy::start().await;
    let node = which("node").expect("node is missing: run scripts/install-deps.sh");
    let script = repo().join("tests/clients/node/pg_smoke.js");
    let url = proxy.url(SCRAM_USER.0, Some(SCRAM_USER.1), "postgres");
    let (ok, out, err) = run(&node, &[script.to_str().unwrap(), &url], None).await;
    assert!(ok, "node-postgres smoke test failed:\n{out}\n{err}");
    assert!(out.contains("checks passed"), "{out}");
}

pub fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
