//! The rewrite engine's costs, per statement text: the fast path for texts
//! that cannot destroy rows, the cache for DELETEs already seen, the cold
//! analysis and rewrite of a DELETE, the hiding of a soft table's deleted
//! rows (new and cached), and rendering a cached rewrite for one session.
//!
//! Run with `cargo bench --bench engine`. Targets: a cache hit (fast path or
//! cached decision) under 1 µs, a cold rewrite under 50 µs.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use softdel::rewrite::{Decision, Engine, Lexing, SessionInfo};
use softdel::rules::Rules;

const RULES: &str = "
defaults:
  max_rows: 1000
  on_delete: allow
  on_parse_error: refuse
tables:
  app_order:
    on_delete: soft
    flag: is_active
    max_rows: 100
    hide: false
  app_payment:
    on_delete: soft
    timestamp: deleted_at
  app_refund:
    on_delete: journal
  app_auditlog:
    on_delete: block
  app_session:
    on_delete: allow
    max_rows: 0
";

/// A Django-style query with a join, ~200 bytes.
const ORM_SELECT: &str = "SELECT \"app_order\".\"id\", \"app_order\".\"total\", \
\"app_customer\".\"name\" FROM \"app_order\" INNER JOIN \"app_customer\" ON \
(\"app_order\".\"customer_id\" = \"app_customer\".\"id\") WHERE \"app_order\".\"is_active\" LIMIT 21";

/// A Django-style list query with two joins, ~400 bytes: the fast path
/// costs per byte.
const ORM_SELECT_LONG: &str = "SELECT \"app_order\".\"id\", \"app_order\".\"customer_id\", \
\"app_order\".\"total\", \"app_customer\".\"name\", \"app_customer\".\"email\" \
FROM \"app_order\" INNER JOIN \"app_customer\" ON (\"app_order\".\"customer_id\" = \
\"app_customer\".\"id\") LEFT OUTER JOIN \"app_refund\" ON (\"app_order\".\"id\" = \
\"app_refund\".\"order_id\") WHERE (\"app_order\".\"is_active\" AND \
\"app_customer\".\"id\" = $1) ORDER BY \"app_order\".\"id\" DESC LIMIT 21";

const ORM_INSERT: &str = "INSERT INTO \"app_order\" (\"customer_id\", \"total\", \
\"is_active\", \"created_at\") VALUES ($1, $2, true, $3) RETURNING \"app_order\".\"id\"";

const DELETE_IN: &str = "DELETE FROM \"app_order\" WHERE \"app_order\".\"id\" IN (1, 2, 3)";

const DELETE_USING_RETURNING: &str = "DELETE FROM \"app_order\" o USING \"app_customer\" c \
WHERE o.\"customer_id\" = c.\"id\" AND c.\"email\" = $1 RETURNING o.\"id\", o.\"total\"";

const DELETE_JOURNAL: &str = "DELETE FROM \"app_refund\" WHERE \"app_refund\".\"id\" = $1";

/// A table the rules do not list: rewritten only to enforce the default
/// row limit.
const DELETE_UNLISTED: &str = "DELETE FROM \"app_item\" WHERE \"app_item\".\"id\" = 12345";

/// A table allowed without a row limit: analysed, then passed unchanged
/// (with literals inlined, every such text is a cache miss).
const DELETE_ALLOWED: &str = "DELETE FROM \"app_session\" WHERE \"app_session\".\"id\" = 12345";

/// A select by primary key on a hidden soft table, as an ORM's `get()`.
const HIDE_BY_KEY: &str = "SELECT \"app_payment\".\"id\", \"app_payment\".\"order_id\", \
\"app_payment\".\"amount\" FROM \"app_payment\" WHERE \"app_payment\".\"id\" = $1 LIMIT 21";

/// A hidden soft table in a two-join list query.
const HIDE_JOIN: &str = "SELECT \"app_order\".\"id\", \"app_payment\".\"amount\", \
\"app_customer\".\"name\" FROM \"app_order\" INNER JOIN \"app_customer\" ON \
(\"app_order\".\"customer_id\" = \"app_customer\".\"id\") LEFT OUTER JOIN \"app_payment\" ON \
(\"app_payment\".\"order_id\" = \"app_order\".\"id\") WHERE \"app_customer\".\"id\" = $1 \
ORDER BY \"app_order\".\"id\" DESC LIMIT 21";

fn engine() -> Engine {
    let rules = Rules::parse(RULES, Path::new("bench.yaml")).expect("bench rules parse");
    Engine::with_nonce(rules, "0123456789abcdef".into())
}

fn session() -> SessionInfo {
    SessionInfo {
        connection_id: 1,
        client_addr: "10.0.0.1".into(),
    }
}

/// Checks, once, that each input takes the path its benchmark claims to
/// measure, so a change in the engine cannot silently turn a benchmark into
/// something else.
fn check_paths(engine: &Engine) {
    for sql in [ORM_SELECT, ORM_SELECT_LONG, ORM_INSERT] {
        assert!(
            matches!(engine.decide(sql, Lexing::default()), Decision::Pass),
            "expected Pass for {sql}"
        );
    }
    assert!(
        matches!(
            engine.analyze_uncached(DELETE_ALLOWED, Lexing::default()),
            Decision::Pass
        ),
        "expected Pass for {DELETE_ALLOWED}"
    );
    for sql in [
        DELETE_IN,
        DELETE_USING_RETURNING,
        DELETE_JOURNAL,
        DELETE_UNLISTED,
        HIDE_BY_KEY,
        HIDE_JOIN,
    ] {
        assert!(
            matches!(
                engine.analyze_uncached(sql, Lexing::default()),
                Decision::Rewrite(_)
            ),
            "expected a rewrite for {sql}"
        );
    }
}

fn pass(c: &mut Criterion) {
    // The same rules without hiding, for the cost of looking for the
    // hidden tables' names in the same run.
    let unhidden = {
        let rules = RULES.replace(
            "    timestamp: deleted_at\n",
            "    timestamp: deleted_at\n    hide: false\n",
        );
        let rules = Rules::parse(&rules, Path::new("bench.yaml")).expect("bench rules parse");
        Engine::with_nonce(rules, "0123456789abcdef".into())
    };
    let mut group = c.benchmark_group("decide/pass_nothing_hidden");
    group.bench_function("orm_select", |b| {
        b.iter(|| unhidden.decide(black_box(ORM_SELECT), Lexing::default()))
    });
    group.bench_function("orm_select_long", |b| {
        b.iter(|| unhidden.decide(black_box(ORM_SELECT_LONG), Lexing::default()))
    });
    group.finish();
    let engine = engine();
    check_paths(&engine);
    let mut group = c.benchmark_group("decide/pass");
    group.bench_function("orm_select", |b| {
        b.iter(|| engine.decide(black_box(ORM_SELECT), Lexing::default()))
    });
    group.bench_function("orm_select_long", |b| {
        b.iter(|| engine.decide(black_box(ORM_SELECT_LONG), Lexing::default()))
    });
    group.bench_function("orm_insert", |b| {
        b.iter(|| engine.decide(black_box(ORM_INSERT), Lexing::default()))
    });
    group.finish();
}

fn cached(c: &mut Criterion) {
    let engine = engine();
    let mut group = c.benchmark_group("decide/cached");
    for (name, sql) in [
        ("delete_in", DELETE_IN),
        ("delete_using_returning", DELETE_USING_RETURNING),
        ("hide_by_key", HIDE_BY_KEY),
        ("hide_join", HIDE_JOIN),
    ] {
        // The first call analyses and fills the cache; the benchmark sees hits.
        assert!(matches!(
            engine.decide(sql, Lexing::default()),
            Decision::Rewrite(_)
        ));
        group.bench_function(name, |b| {
            b.iter(|| engine.decide(black_box(sql), Lexing::default()))
        });
    }
    group.finish();
}

fn cold(c: &mut Criterion) {
    let engine = engine();
    let mut group = c.benchmark_group("analyze_uncached");
    for (name, sql) in [
        ("soft_delete_in", DELETE_IN),
        ("soft_delete_using_returning", DELETE_USING_RETURNING),
        ("journal_delete", DELETE_JOURNAL),
        ("limit_only_delete", DELETE_UNLISTED),
        ("allowed_delete_pass", DELETE_ALLOWED),
        ("hide_by_key", HIDE_BY_KEY),
        ("hide_join", HIDE_JOIN),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| engine.analyze_uncached(black_box(sql), Lexing::default()))
        });
    }
    group.finish();
}

fn render(c: &mut Criterion) {
    let engine = engine();
    let session = session();
    let mut group = c.benchmark_group("render");
    for (name, sql) in [
        ("soft_delete_in", DELETE_IN),
        ("soft_delete_using_returning", DELETE_USING_RETURNING),
    ] {
        let rewrite = match engine.decide(sql, Lexing::default()) {
            Decision::Rewrite(r) => r,
            Decision::Pass => panic!("expected a rewrite for {sql}"),
        };
        group.bench_function(name, |b| {
            b.iter(|| black_box(&rewrite.template).render(black_box(&session)))
        });
    }
    // What a session pays per cached DELETE: the lookup and the rendering.
    group.bench_function("decide_and_render_delete_in", |b| {
        b.iter(
            || match engine.decide(black_box(DELETE_IN), Lexing::default()) {
                Decision::Rewrite(r) => Some(r.template.render(&session)),
                Decision::Pass => None,
            },
        )
    });
    group.finish();
}

/// A client that writes its values into the text (the simple protocol):
/// every text is new, of one shape. Each iteration formats a new key (the
/// formatting alone is measured too, apart).
fn shaped(c: &mut Criterion) {
    let engine = engine();
    let text = |id: u64| {
        format!(
            "SELECT \"app_payment\".\"id\", \"app_payment\".\"amount\" FROM \"app_payment\" \
             WHERE \"app_payment\".\"id\" = {id} LIMIT 21"
        )
    };
    assert!(matches!(
        engine.decide(&text(0), Lexing::default()),
        Decision::Rewrite(_)
    ));
    let mut group = c.benchmark_group("decide/shaped");
    let mut id = 0u64;
    group.bench_function("format_only", |b| {
        b.iter(|| {
            id += 1;
            black_box(text(id))
        })
    });
    group.bench_function("hide_by_literal_key", |b| {
        b.iter(|| {
            id += 1;
            engine.decide(&text(id), Lexing::default())
        })
    });
    group.finish();
}

criterion_group!(benches, pass, cached, shaped, cold, render);
criterion_main!(benches);
