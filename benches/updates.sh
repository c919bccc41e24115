#!/usr/bin/env bash
# What a journaled UPDATE costs (`on_update: journal`), side by side with
# what a user would build instead. A single-row UPDATE by primary key
# (`UPDATE <t> SET abalance = abalance + :delta WHERE aid = :aid`, one per
# transaction) on copies of pgbench_accounts, with pgbench, per mode and
# client count, the targets interleaved:
#
#   direct   the UPDATE on accounts_plain (no trigger), straight to PostgreSQL
#   audit    what a user would build instead: the UPDATE on accounts_audited,
#            straight to PostgreSQL, whose row-level AFTER UPDATE trigger
#            writes to_jsonb(OLD) and to_jsonb(NEW) into a table `audit`
#   guard    the UPDATE on accounts (on_update: journal, guard installed by
#            softdel init --rules), straight to PostgreSQL: the guard's cost
#   softdel  the same UPDATE on accounts through softdel: what an
#            application that points DATABASE_URL at softdel pays
#   pass     the UPDATE on accounts_plain through softdel: the proxy's own
#            cost, nothing journaled
#
# Before measuring: one UPDATE through softdel journals exactly one
# `update` operation whose row holds the aid and abalance before and after.
# After every run of a journaled target: as many new operations as pgbench
# counted transactions (a mismatch fails the run).
#
# The target of the design: softdel within 1.5x of direct (latency) at
# PostgreSQL's default durability, simple and prepared; the report says
# where it is met.
#
# Usage: benches/updates.sh [--out FILE]
#
#   --out FILE   also write the report (machine info + tables) to FILE
#
# Environment:
#   DURATION         seconds per pgbench run (default 10)
#   WARMUP           seconds of warm-up per target before measuring (default 3, 0 = none)
#   SCALE            pgbench scale factor: 100,000 accounts per table each (default 5)
#   DURABILITY       on (default): PostgreSQL's defaults, every commit waits
#                    for its WAL flush; off: fsync, synchronous_commit and
#                    full_page_writes off, the statements' CPU cost only
#   MODES            pgbench -M modes (default "simple extended prepared")
#   CLIENTS          client counts (default "1 8")
#   TARGETS          a subset of the default "direct audit guard softdel pass"
#   MAX_THREADS      pgbench -j is min(clients, MAX_THREADS) (default 2)
#   POSTGRES_BINDIR  PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
#
# PG* and SOFTDEL_* variables from the caller's environment are ignored.
# Everything (cluster, proxy, logs) lives in a temp dir that is removed on
# exit. Progress goes to stderr, the report to stdout. Runs as root (installs
# PostgreSQL 15 with apt-get if missing, runs it as `postgres`) or as an
# ordinary user when it is already installed.
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init "$@"
export PGCONNECT_TIMEOUT=5

DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
SCALE="${SCALE:-5}"
DURABILITY="${DURABILITY:-on}"
MAX_THREADS="${MAX_THREADS:-2}"
POSTGRES_BINDIR="${POSTGRES_BINDIR:-/usr/lib/postgresql/15/bin}"
read -r -a MODES <<<"${MODES:-simple extended prepared}"
read -r -a CLIENTS <<<"${CLIENTS:-1 8}"
readonly ALL_TARGETS=(direct audit guard softdel pass)
read -r -a TARGETS <<<"${TARGETS:-${ALL_TARGETS[*]}}"
readonly DB=bench
readonly DB_USER=postgres
# The design's target (see the usage text).
readonly MAX_SOFTDEL_DIRECT=1.5
RATIO_DECIMALS=2

ACCOUNTS=0
JOURNAL_BEFORE=0
declare -A CHECK=()

parse_args() {
    parse_common_args "$@"
    [[ "$SCALE" =~ ^[1-9][0-9]*$ ]] || die "SCALE must be a positive integer (got '$SCALE')"
    [[ "$DURABILITY" == on || "$DURABILITY" == off ]] || die "DURABILITY must be on or off (got '$DURABILITY')"
    [[ "$MAX_THREADS" =~ ^[1-9][0-9]*$ ]] || die "MAX_THREADS must be a positive integer (got '$MAX_THREADS')"
    check_lists "TARGETS is empty"
    ACCOUNTS=$((100000 * SCALE))
    check_out_file
}

wants() { [[ " ${TARGETS[*]} " == *" $1 "* ]]; }

ensure_packages() {
    have_postgres && return 0
    is_root || die "PostgreSQL 15 not found in $POSTGRES_BINDIR; run as root or: apt-get install postgresql-15"
    begin_install postgresql-15
    apt_install postgresql-15 || die "could not install postgresql-15"
    have_postgres || die "postgresql-15 installed but binaries not found in $POSTGRES_BINDIR"
}

start_postgres_for_updates() {
    local settings=("max_connections = 100")
    [[ "$DURABILITY" == off ]] && settings+=("${NO_DURABILITY[@]}")
    start_postgres updates.sh "${settings[@]}"
}

# Three copies of pgbench_accounts: journaled by the guard, audited by a
# row-level trigger, and plain.
create_schema() {
    log "creating database '$DB' (pgbench -i -s $SCALE) and three copies of pgbench_accounts"
    pgbench_init "$SCALE"
    sql "
        ALTER TABLE pgbench_accounts RENAME TO accounts;
        CREATE TABLE accounts_plain (LIKE accounts INCLUDING ALL);
        INSERT INTO accounts_plain SELECT * FROM accounts;
        CREATE TABLE accounts_audited (LIKE accounts INCLUDING ALL);
        INSERT INTO accounts_audited SELECT * FROM accounts;
        CREATE TABLE audit (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(),
                            table_name text NOT NULL, before jsonb NOT NULL, after jsonb NOT NULL);
        CREATE FUNCTION audit_update() RETURNS trigger LANGUAGE plpgsql AS \$\$
        BEGIN
            INSERT INTO audit (table_name, before, after) VALUES (TG_TABLE_NAME, to_jsonb(OLD), to_jsonb(NEW));
            RETURN NULL;
        END \$\$;
        CREATE TRIGGER audit_update AFTER UPDATE ON accounts_audited
            FOR EACH ROW EXECUTE FUNCTION audit_update();" >/dev/null
    sql "VACUUM ANALYZE" >/dev/null
    sql "CHECKPOINT" >/dev/null
}

write_rules() {
    cat >"$WORK/rules.yaml" <<EOF
tables:
  accounts:
    on_update: journal
EOF
    check_rules
    grep -q "^accounts: allow, .*updates journaled" "$WORK/rules-check.log" \
        || { cat "$WORK/rules-check.log" >&2; die "softdel rules check does not say accounts' updates are journaled"; }
}

table_of() {
    case "$1" in
        direct|pass) echo accounts_plain ;;
        audit) echo accounts_audited ;;
        guard|softdel) echo accounts ;;
    esac
}

target_port() {
    case "$1" in
        direct|audit|guard) echo "$DIRECT_PORT" ;;
        softdel|pass) echo "$SOFTDEL_PORT" ;;
    esac
}

proxy_pid() {
    case "$1" in
        softdel|pass) echo "$SOFTDEL_PID" ;;
    esac
}

write_scripts() {
    local t
    for t in accounts accounts_plain accounts_audited; do
        printf '\\set aid random(1, :naccounts)\n\\set delta random(1, 1000)\nUPDATE %s SET abalance = abalance + :delta WHERE aid = :aid;\n' \
            "$t" >"$WORK/$t.sql"
    done
}

run_pgbench() {
    pgbench_through "$@" -D naccounts="$ACCOUNTS" -f "$WORK/$(table_of "$1").sql"
}

journal_ops() { sql "SELECT count(*) FROM softdel.operations WHERE action = 'update'"; }

# One update through softdel: exactly one operation, with the row's key and
# the balance before and after.
check_journal() {
    local before after image
    before="$(journal_ops)"
    psql_at "$SOFTDEL_PORT" -d "$DB" -c "UPDATE accounts SET abalance = abalance + 7 WHERE aid = 3" >/dev/null \
        || die "check failed: the UPDATE through softdel failed"
    after="$(journal_ops)"
    ((after == before + 1)) || die "check failed: one UPDATE through softdel journaled $((after - before)) operations"
    image="$(sql "SELECT r.image::text FROM softdel.rows r JOIN softdel.operations o ON o.id = r.op_id
                  WHERE o.action = 'update' ORDER BY r.id DESC LIMIT 1")"
    [[ "$image" == '{"key": {"aid": 3}, "after": {"abalance": 7}, "before": {"abalance": 0}}' ]] \
        || die "check failed: the journaled row is $image"
    log "check: one UPDATE through softdel journaled $image"
}

# measure_point, then: a journaled target left one operation per transaction.
measure_update() {
    local target="$1" before=""
    [[ "$target" == guard || "$target" == softdel ]] && before="$(journal_ops)"
    measure_point "$@"
    if [[ -n "$before" && -n "$LAST_TXS" ]]; then
        local added=$(($(journal_ops) - before))
        if ((added == LAST_TXS)); then
            CHECK[$2,$3,$1]=ok
        else
            CHECK[$2,$3,$1]="$added ops for $LAST_TXS tx"
            warn "$target ($2/$3): $added operations journaled for $LAST_TXS transactions"
            FAILURES=$((FAILURES + 1))
        fi
    fi
}

machine_info() {
    local pg_version
    pg_version="$(psql_at "$DIRECT_PORT" -d postgres -c 'show server_version')"
    report_heading "softdel journaled updates: a single-row UPDATE by primary key"
    echo "- PostgreSQL: $pg_version (durability $DURABILITY); each table: $ACCOUNTS rows (pgbench -i -s $SCALE)"
    echo "- softdel: $(softdel_rev) (release build); rules: accounts on_update journal; guard installed with softdel init --rules"
    echo "- command: DURATION=$DURATION WARMUP=$WARMUP SCALE=$SCALE DURABILITY=$DURABILITY MODES=\"${MODES[*]}\" CLIENTS=\"${CLIENTS[*]}\" TARGETS=\"${TARGETS[*]}\" MAX_THREADS=$MAX_THREADS $COMMAND_LINE"
    echo "- script: \\set aid random(1, :naccounts); \\set delta random(1, 1000); UPDATE <table> SET abalance = abalance + :delta WHERE aid = :aid;"
    echo "- latency: pgbench's latency average per transaction, ms; journaled targets checked: one update operation per transaction"
    echo "- note: pgbench, the proxy and PostgreSQL share the same $(nproc) CPUs"
    echo
}

row() {
    printf '| %-8s | %7s | %9s | %9s | %9s | %11s | %8s | %14s | %14s | %14s | %12s |\n' "$@"
}

table() {
    row mode clients "direct ms" "audit ms" "guard ms" "softdel ms" "pass ms" \
        "softdel/direct" "softdel/audit" "guard/direct" "softdel TPS"
    row -------- ------: --------: --------: --------: ----------: -------: \
        -------------: -------------: -------------: -----------:
    local mode clients k
    for mode in "${MODES[@]}"; do
        for clients in "${CLIENTS[@]}"; do
            k="$mode,$clients"
            row "$mode" "$clients" \
                "$(fmt_num "${LAT[$k,direct]:-}" %.3f)" "$(fmt_num "${LAT[$k,audit]:-}" %.3f)" \
                "$(fmt_num "${LAT[$k,guard]:-}" %.3f)" "$(fmt_num "${LAT[$k,softdel]:-}" %.3f)" \
                "$(fmt_num "${LAT[$k,pass]:-}" %.3f)" \
                "$(ratio "${LAT[$k,softdel]:-}" "${LAT[$k,direct]:-}")" \
                "$(ratio "${LAT[$k,softdel]:-}" "${LAT[$k,audit]:-}")" \
                "$(ratio "${LAT[$k,guard]:-}" "${LAT[$k,direct]:-}")" \
                "$(fmt_num "${TPS[$k,softdel]:-}" %.0f)"
        done
    done
}

targets() {
    if ! { wants softdel && wants direct; }; then return 0; fi
    local met=() missed=()
    score_points LAT softdel direct at_most "$MAX_SOFTDEL_DIRECT"
    echo
    printf -- '- target softdel/direct <= %s in latency: %s\n' "$MAX_SOFTDEL_DIRECT" "$(met_missed)"
}

main() {
    parse_args "$@"
    install_traps
    ensure_packages
    build_softdel
    make_workdir
    start_postgres_for_updates
    create_schema
    write_rules
    install_guard accounts accounts.softdel_guard_update
    write_scripts
    start_softdel --rules "$WORK/rules.yaml"
    check_journal
    warm_up "${TARGETS[@]}"
    run_matrix measure_update "${TARGETS[@]}"
    report machine_info table targets
    ((FAILURES == 0)) || die "$FAILURES run(s) failed or journaled wrong (see the warnings above)"
}

main "$@"
