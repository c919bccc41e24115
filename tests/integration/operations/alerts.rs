//! The alerting rules and the dashboard an operator loads
//! (examples/prometheus, examples/grafana): valid to their tools, firing
//! when they should, and asking only for metrics softdel exports.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use super::http_get;
use crate::common::TestProxy;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")
}

#[test]
fn the_alerting_rules_pass_promtool_and_their_unit_tests() {
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(examples().join("prometheus"))
            .output()
            .expect("promtool (scripts/install-deps.sh installs it)");
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The `softdel_...` names a text uses.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("softdel_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.insert(name);
    }
    names
}

fn dashboard() -> serde_json::Value {
    let text = std::fs::read_to_string(examples().join("grafana/softdel.json")).unwrap();
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

#[test]
fn the_dashboards_panels_each_query_the_chosen_data_source() {
    let dashboard = dashboard();
    let panels = dashboard["panels"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    for panel in panels {
        assert!(ids.insert(panel["id"].as_i64().unwrap()), "unique ids");
        assert_eq!(panel["datasource"]["uid"], "${datasource}");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{}", panel["title"]);
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            assert!(expr.contains("instance=~\"$instance\""), "{expr}");
        }
    }
}

#[tokio::test]
async fn every_metric_the_examples_use_is_one_softdel_exports() {
    let proxy = TestProxy::start_with(|config| {
        config.admin_listen = Some(([127, 0, 0, 1], 0).into());
    })
    .await;
    let (status, body) = http_get(proxy.admin.unwrap(), "/metrics").await;
    assert_eq!(status, 200);
    // Each family's samples: counters and gauges by their name, a
    // histogram by its buckets, sum and count.
    let mut exported = BTreeSet::new();
    for line in body.lines() {
        let Some((name, kind)) = line.strip_prefix("# TYPE ").and_then(|t| t.split_once(' '))
        else {
            continue;
        };
        if kind == "histogram" {
            for part in ["_bucket", "_sum", "_count"] {
                exported.insert(format!("{name}{part}"));
            }
        } else {
            exported.insert(name.to_owned());
        }
    }
    let alerts = std::fs::read_to_string(examples().join("prometheus/alerts.yml")).unwrap();
    let used_by_alerts = metric_names(&alerts);
    let used_by_dashboard = metric_names(&dashboard().to_string());
    assert!(used_by_alerts.len() >= 5, "{used_by_alerts:?}");
    for name in used_by_alerts.iter().chain(&used_by_dashboard) {
        assert!(
            exported.contains(name),
            "{name} is not exported: {exported:?}"
        );
    }
    // The dashboard shows every family but the build's version.
    let shown: BTreeSet<&str> = used_by_dashboard
        .iter()
        .map(|n| n.trim_end_matches("_bucket"))
        .collect();
    for name in &exported {
        let family = name
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        let unshown = [
            "softdel_build_info",
            "softdel_statements_reprepared_total",
            "softdel_rules_last_reload_success_timestamp_seconds",
            "softdel_client_connections_total",
        ];
        if !unshown.contains(&family) {
            assert!(shown.contains(family), "{family} is on no panel");
        }
    }
    proxy.stop().await;
}
