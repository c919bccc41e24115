//! The `softdel` binary itself: configuration from the environment,
//! signals, and clear errors for bad arguments.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::common::raw::RawConn;
use crate::common::{cluster, connect, url};

fn softdel() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_softdel"));
    cmd.env_remove("SOFTDEL_RULES")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test]
async fn proxy_from_environment_stops_on_sigterm() {
    let listen = free_addr();
    let mut child = softdel()
        .arg("proxy")
        .env("SOFTDEL_LISTEN", listen.to_string())
        .env("SOFTDEL_UPSTREAM", cluster().addr())
        .spawn()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    let client = loop {
        match connect(&url(listen, "postgres", None, "postgres")).await {
            Ok(client) => break client,
            Err(e) => assert!(Instant::now() < deadline, "proxy never came up: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        client
            .query_one("SELECT 11", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        11
    );
    let mut idle = RawConn::login(listen, "postgres", "postgres").await;

    let status = Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status()
        .await
        .unwrap();
    assert!(status.success());

    let goodbye = idle.until_closed().await;
    assert_eq!(
        goodbye.last().and_then(|m| m.sqlstate()).as_deref(),
        Some("57P01")
    );
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits promptly once sessions are closed")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn bad_arguments_are_clear_errors() {
    let cases: [(&[&str], &str); 12] = [
        (
            &["proxy", "--rules", "/nonexistent/rules.yaml"],
            "/nonexistent/rules.yaml: cannot read the rules file",
        ),
        (
            &["proxy", "--tls-required"],
            "--tls-required needs --tls-cert and --tls-key",
        ),
        (
            &[
                "proxy",
                "--tls-cert",
                "/nonexistent/cert.pem",
                "--tls-key",
                "/x",
            ],
            "cannot read --tls-cert /nonexistent/cert.pem",
        ),
        (
            &["proxy", "--upstream-tls", "verify-full"],
            "--upstream-tls verify-full needs --upstream-ca",
        ),
        (
            &["proxy", "--upstream-tls", "verify"],
            "invalid value 'verify' for '--upstream-tls",
        ),
        (
            &["proxy", "--upstream-cert", "/x.pem"],
            "--upstream-cert needs --upstream-key",
        ),
        (
            &[
                "proxy",
                "--upstream-tls",
                "disable",
                "--upstream-cert",
                "/x.pem",
                "--upstream-key",
                "/x.key",
            ],
            "--upstream-cert is shown over TLS only: not with --upstream-tls disable",
        ),
        (
            &[
                "proxy",
                "--upstream-cert",
                "/nonexistent/client.pem",
                "--upstream-key",
                "/x.key",
            ],
            "cannot read --upstream-cert /nonexistent/client.pem",
        ),
        (
            &["proxy", "--max-client-connections", "0"],
            "invalid value '0' for '--max-client-connections",
        ),
        (
            &["proxy", "--rules-poll", "0"],
            "--rules-poll must be at least 100ms, not 0ns",
        ),
        (&["proxy", "--shutdown-grace", "soon"], "invalid duration"),
        (
            &["proxy", "--listen", "not-an-address"],
            "invalid socket address",
        ),
    ];
    for (args, expected) in cases {
        let output = softdel().args(args).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn rules_check_validates_a_file() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/example.yaml");
    let output = softdel()
        .args(["rules", "check", example])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("orders: soft, flag is_active, at most 100 rows"),
        "{stdout}"
    );
    assert!(stdout.contains("audit_logs: block"), "{stdout}");
    assert!(stdout.ends_with(&format!("{example}: ok\n")), "{stdout}");

    let dir = std::env::temp_dir().join(format!("softdel-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.yaml");
    std::fs::write(
        &broken,
        "tables:\n  orders:\n    on_delete: soft\n    max_rows: -3\n",
    )
    .unwrap();
    for args in [vec!["rules", "check"], vec!["proxy", "--rules"]] {
        let output = softdel().args(&args).arg(&broken).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr.contains(&format!(
                "{}:4:15: tables.orders.max_rows",
                broken.display()
            )),
            "{args:?}: {stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A second demo on a busy port stops at once, before starting a
/// PostgreSQL or saying where to connect, and says why once.
#[tokio::test]
async fn a_demo_on_a_busy_port_says_so_before_anything_else() {
    let busy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = busy.local_addr().unwrap();
    let dir = std::env::temp_dir().join(format!("softdel-busy-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let started = Instant::now();
    let out = softdel()
        .args(["demo", "--listen", &addr.to_string()])
        .current_dir(&dir)
        .output()
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it started something first"
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        format!(
            "softdel: error: cannot listen on {addr} (is another softdel demo running? stop it, \
             or give another address and file: softdel demo --listen 127.0.0.1:6433 \
             --env-file demo2.env): Address already in use (os error 98)\n"
        )
    );
    assert!(!dir.join("softdel-demo.env").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Flags of `--help` are the ones the docs name.
#[tokio::test]
async fn the_connect_timeouts_alias_is_in_help() {
    let out = softdel().args(["proxy", "--help"]).output().await.unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--upstream-connect-timeout"), "{help}");
}
