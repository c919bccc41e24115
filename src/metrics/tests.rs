//! `render()` read back the way a Prometheus scraper reads it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::{LABEL_SETS_LIMIT, Metrics};

/// One sample line, parsed.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// What the exposition says: families by name with their TYPE, and the
/// samples in order.
#[derive(Debug, Default)]
struct Scrape {
    types: HashMap<String, String>,
    samples: Vec<Sample>,
}

impl Scrape {
    fn values(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
    }
}

/// Parses the text format strictly, failing on anything a scraper would
/// reject: HELP/TYPE repeated or missing, samples outside their family or
/// after it ended, bad names, bad escapes, bad values.
fn parse(text: &str) -> Result<Scrape, String> {
    let mut scrape = Scrape::default();
    let mut helped = HashMap::new();
    let mut current: Option<String> = None;
    let mut finished: Vec<String> = Vec::new();
    if !text.ends_with('\n') {
        return Err("exposition does not end with a newline".into());
    }
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').ok_or("HELP without text")?;
            if helped.insert(name.to_string(), ()).is_some() {
                return Err(format!("HELP twice for {name}"));
            }
            start_family(&mut current, &mut finished, name)?;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or("TYPE without type")?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(format!("unknown type {kind}"));
            }
            if scrape.types.insert(name.into(), kind.into()).is_some() {
                return Err(format!("TYPE twice for {name}"));
            }
            if current.as_deref() != Some(name) {
                return Err(format!("TYPE for {name} not right after its HELP"));
            }
        } else if line.starts_with('#') || line.is_empty() {
            return Err(format!("unexpected line {line:?}"));
        } else {
            let sample = parse_sample(line)?;
            let family = current.as_deref().ok_or("sample before any family")?;
            let kind = scrape.types.get(family).map(String::as_str);
            let belongs = match kind {
                Some("histogram") => ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| sample.name == format!("{family}{s}")),
                Some(_) => sample.name == family,
                None => false,
            };
            if !belongs {
                return Err(format!("{} outside its family ({family})", sample.name));
            }
            scrape.samples.push(sample);
        }
    }
    if helped.len() != scrape.types.len() {
        return Err("a family has HELP without TYPE".into());
    }
    Ok(scrape)
}

fn start_family(
    current: &mut Option<String>,
    finished: &mut Vec<String>,
    name: &str,
) -> Result<(), String> {
    if !valid_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    if finished.iter().any(|f| f == name) {
        return Err(format!("family {name} appears twice"));
    }
    if let Some(previous) = current.replace(name.to_string()) {
        finished.push(previous);
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `name{label="value",...} value`, with label values unescaped.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| format!("no value in {line:?}"))?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("bad metric name in {line:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(body) = rest.strip_prefix('{') {
        rest = body;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after) = rest
                .split_once("=\"")
                .ok_or_else(|| format!("bad label in {line:?}"))?;
            if !valid_name(label) || label.contains(':') {
                return Err(format!("bad label name {label:?}"));
            }
            let (value, after) = unescape(after)?;
            if labels.insert(label.to_string(), value).is_some() {
                return Err(format!("label {label} twice in {line:?}"));
            }
            rest = after.strip_prefix(',').unwrap_or(after);
        }
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("no space before the value in {line:?}"))?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse::<f64>()
            .map_err(|_| format!("bad value {v:?} in {line:?}"))?,
    };
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Reads an escaped label value up to its closing quote.
fn unescape(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, 'n')) => out.push('\n'),
                other => return Err(format!("bad escape {other:?}")),
            },
            '\n' => return Err("raw newline in a label value".into()),
            c => out.push(c),
        }
    }
    Err("unterminated label value".into())
}

fn scrape(m: &Metrics) -> Scrape {
    let text = m.render();
    parse(&text).unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
}

const FAMILIES: [(&str, &str); 21] = [
    ("softdel_client_connections", "gauge"),
    ("softdel_client_connections_total", "counter"),
    ("softdel_client_connections_refused_total", "counter"),
    ("softdel_statements_total", "counter"),
    ("softdel_decisions_total", "counter"),
    ("softdel_refused_total", "counter"),
    ("softdel_observed_total", "counter"),
    ("softdel_deleted_rows_total", "counter"),
    ("softdel_rewrite_cache_hits_total", "counter"),
    ("softdel_rewrite_cache_misses_total", "counter"),
    ("softdel_upstream_connect_errors_total", "counter"),
    ("softdel_client_bytes_received_total", "counter"),
    ("softdel_client_bytes_sent_total", "counter"),
    ("softdel_statement_duration_seconds", "histogram"),
    ("softdel_rules_reloads_total", "counter"),
    ("softdel_notifications_total", "counter"),
    (
        "softdel_rules_last_reload_success_timestamp_seconds",
        "gauge",
    ),
    ("softdel_rules_tables", "gauge"),
    ("softdel_statements_reprepared_total", "counter"),
    ("softdel_tls_handshake_errors_total", "counter"),
    ("softdel_build_info", "gauge"),
];

/// Something of everything, as a busy proxy would have.
fn busy() -> Metrics {
    let m = Metrics::new();
    for _ in 0..3 {
        m.client_connected();
    }
    m.client_disconnected();
    m.client_refused("too_many_connections");
    m.client_refused("tls_required");
    m.client_refused("too_many_connections");
    for _ in 0..10 {
        m.statement();
    }
    m.decision("public.orders", "soft");
    m.decision("public.orders", "soft");
    m.decision("audit.log", "journal");
    m.refused("public.users", "block");
    m.refused("", "parse");
    m.observed("public.orders", "soft");
    m.deleted_rows("public.orders", 40, true);
    m.deleted_rows("public.orders", 2, true);
    m.observed("public.orders", "refuse_limit");
    m.observed("public.orders", "refuse_limit");
    m.cache(true);
    m.cache(true);
    m.cache(false);
    m.upstream_connect_error();
    m.bytes_from_client(100);
    m.bytes_to_client(2_000);
    m.observe_statement(Duration::from_micros(50));
    m.observe_statement(Duration::from_millis(3));
    m.observe_statement(Duration::from_secs(30));
    m.rules_reload(true);
    m.rules_reload(false);
    m.set_rules_loaded(7);
    m.tls_handshake_error();
    m.reprepared();
    m.reprepared();
    m
}

#[test]
fn a_fresh_exposition_parses_and_declares_every_family() {
    let s = scrape(&Metrics::new());
    for (name, kind) in FAMILIES {
        assert_eq!(s.types.get(name).map(String::as_str), Some(kind), "{name}");
    }
    assert_eq!(s.types.len(), FAMILIES.len());
    assert_eq!(s.value("softdel_statements_total", &[]), Some(0.0));
    assert_eq!(
        s.value(
            "softdel_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    assert_eq!(
        s.value("softdel_rules_last_reload_success_timestamp_seconds", &[]),
        Some(0.0),
        "never reloaded reads as 0"
    );
}

#[test]
fn a_busy_exposition_reports_what_happened() {
    let s = scrape(&busy());
    let v = |name: &str, labels: &[(&str, &str)]| s.value(name, labels);
    assert_eq!(v("softdel_client_connections", &[]), Some(2.0));
    assert_eq!(v("softdel_client_connections_total", &[]), Some(3.0));
    assert_eq!(
        v(
            "softdel_client_connections_refused_total",
            &[("reason", "too_many_connections")]
        ),
        Some(2.0)
    );
    assert_eq!(v("softdel_statements_total", &[]), Some(10.0));
    assert_eq!(
        v(
            "softdel_decisions_total",
            &[("table", "public.orders"), ("action", "soft")]
        ),
        Some(2.0)
    );
    assert_eq!(
        v(
            "softdel_refused_total",
            &[("table", ""), ("reason", "parse")]
        ),
        Some(1.0)
    );
    assert_eq!(
        v(
            "softdel_observed_total",
            &[("table", "public.orders"), ("would", "refuse_limit")]
        ),
        Some(2.0)
    );
    assert_eq!(
        v(
            "softdel_deleted_rows_total",
            &[("table", "public.orders"), ("how", "soft")]
        ),
        Some(42.0)
    );
    assert_eq!(v("softdel_rewrite_cache_hits_total", &[]), Some(2.0));
    assert_eq!(v("softdel_rewrite_cache_misses_total", &[]), Some(1.0));
    assert_eq!(v("softdel_upstream_connect_errors_total", &[]), Some(1.0));
    assert_eq!(v("softdel_client_bytes_received_total", &[]), Some(100.0));
    assert_eq!(v("softdel_client_bytes_sent_total", &[]), Some(2000.0));
    assert_eq!(
        v("softdel_rules_reloads_total", &[("result", "ok")]),
        Some(1.0)
    );
    assert_eq!(
        v("softdel_rules_reloads_total", &[("result", "error")]),
        Some(1.0)
    );
    assert_eq!(v("softdel_rules_tables", &[]), Some(7.0));
    assert_eq!(v("softdel_tls_handshake_errors_total", &[]), Some(1.0));
    assert_eq!(v("softdel_statements_reprepared_total", &[]), Some(2.0));
    let reloaded = v("softdel_rules_last_reload_success_timestamp_seconds", &[]);
    assert!(reloaded.is_some_and(|t| t > 1.6e9), "{reloaded:?}");
}

#[test]
fn histogram_buckets_are_cumulative_and_end_in_inf_equal_to_count() {
    let s = scrape(&busy());
    let buckets = s.values("softdel_statement_duration_seconds_bucket");
    assert_eq!(buckets.len(), 17);
    let mut previous = (f64::NEG_INFINITY, 0.0);
    for b in &buckets {
        let le = match b.labels.get("le").map(String::as_str) {
            Some("+Inf") => f64::INFINITY,
            Some(le) => le.parse().expect("le is a number"),
            None => panic!("bucket without le"),
        };
        assert!(le > previous.0, "le ascends: {le} after {}", previous.0);
        assert!(b.value >= previous.1, "counts are cumulative");
        previous = (le, b.value);
    }
    assert_eq!(previous.0, f64::INFINITY, "the last bucket is +Inf");
    let count = s.value("softdel_statement_duration_seconds_count", &[]);
    assert_eq!(Some(previous.1), count);
    assert_eq!(count, Some(3.0));
    let le = |bound: &str| {
        s.value(
            "softdel_statement_duration_seconds_bucket",
            &[("le", bound)],
        )
    };
    assert_eq!(le("0.0001"), Some(1.0));
    assert_eq!(le("0.005"), Some(2.0));
    assert_eq!(le("10"), Some(2.0));
    let sum = s
        .value("softdel_statement_duration_seconds_sum", &[])
        .expect("sum");
    assert!((sum - 30.00305).abs() < 1e-9, "{sum}");
}

#[test]
fn label_values_come_back_exactly_after_escaping() {
    let m = Metrics::new();
    let nasty = "we\"ird\\ta\nble}, x=\"1\"";
    m.decision(nasty, "soft");
    m.refused("ünïcödé", "block");
    let s = scrape(&m);
    assert_eq!(
        s.value(
            "softdel_decisions_total",
            &[("table", nasty), ("action", "soft")]
        ),
        Some(1.0)
    );
    assert_eq!(
        s.value(
            "softdel_refused_total",
            &[("table", "ünïcödé"), ("reason", "block")]
        ),
        Some(1.0)
    );
}

#[test]
fn a_client_naming_endless_tables_cannot_grow_the_exposition() {
    let m = Metrics::new();
    let tables = LABEL_SETS_LIMIT + 500;
    for i in 0..tables {
        m.decision(&format!("t{i}"), "soft");
        m.refused(&format!("t{i}"), "block");
        m.observed(&format!("t{i}"), "soft");
    }
    let s = scrape(&m);
    for family in [
        "softdel_decisions_total",
        "softdel_refused_total",
        "softdel_observed_total",
    ] {
        let series = s.values(family);
        assert!(series.len() <= LABEL_SETS_LIMIT + 1, "{}", series.len());
        let total: f64 = series.iter().map(|s| s.value).sum();
        assert_eq!(total, tables as f64, "nothing is lost, only folded");
        assert!(series.iter().any(|s| s.labels["table"] == "(other)"));
    }
}

#[test]
fn unmatched_disconnect_shows_as_negative_not_wrapped() {
    let m = Metrics::new();
    m.client_disconnected();
    assert_eq!(
        scrape(&m).value("softdel_client_connections", &[]),
        Some(-1.0)
    );
}

#[test]
fn each_metrics_counts_on_its_own() {
    let a = Metrics::new();
    let b = Metrics::new();
    a.statement();
    assert_eq!(scrape(&a).value("softdel_statements_total", &[]), Some(1.0));
    assert_eq!(scrape(&b).value("softdel_statements_total", &[]), Some(0.0));
}

#[test]
fn concurrent_counting_loses_nothing() {
    let m = std::sync::Arc::new(Metrics::new());
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let m = std::sync::Arc::clone(&m);
            std::thread::spawn(move || {
                for _ in 0..10_000 {
                    m.statement();
                    m.bytes_from_client(5);
                    m.decision("orders", "soft");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker thread");
    }
    let s = scrape(&m);
    assert_eq!(s.value("softdel_statements_total", &[]), Some(40_000.0));
    assert_eq!(
        s.value("softdel_client_bytes_received_total", &[]),
        Some(200_000.0)
    );
    assert_eq!(
        s.value(
            "softdel_decisions_total",
            &[("table", "orders"), ("action", "soft")]
        ),
        Some(40_000.0)
    );
}

#[test]
fn the_parser_rejects_what_a_scraper_would() {
    for bad in [
        "m 1\n",                                          // no family
        "# HELP m x\n# TYPE m counter\nm{a=\"1} 1\n",     // unterminated
        "# HELP m x\n# TYPE m counter\nm{a=\"\\x\"} 1\n", // bad escape
        "# HELP m x\n# TYPE m counter\nm one\n",          // bad value
        "# HELP m x\n# TYPE m counter\n# HELP m y\n",     // HELP twice
        "# HELP m x\n# TYPE m counter\nn 1\n",            // outside family
        "# HELP m x\n# TYPE m counter\nm 1",              // no final newline
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}
