#!/usr/bin/env bash
# What hiding soft-deleted rows costs a read, side by side with what a user
# would build instead. A select by primary key on pgbench_accounts, a soft
# table whose deleted rows softdel hides (`hide: true`, the default), with
# DELETED_EVERY-th row soft-deleted (1% by default) so the filter matters;
# the guard installed with `softdel init --rules`. In one run, per pgbench
# mode and client count, the targets interleaved:
#
#   softdel           the application's plain query through softdel
#                     (`SELECT abalance FROM pgbench_accounts WHERE aid = :aid`),
#                     which softdel rewrites to read only the live rows
#   pgbouncer         what a user would build instead: the query with the
#                     filter written by hand (`... AND deleted_at IS NULL`,
#                     or `... AND is_active` with MARKER=flag) through
#                     PgBouncer (session pooling)
#   direct            the hand-filtered query straight to PostgreSQL, for
#                     reference
#   softdel-filtered  the hand-filtered query through softdel: the table is
#                     still hidden, so it is rewritten too (the filter twice)
#
# In simple mode every query text is distinct (the aid is a literal), so
# softdel parses each one; in extended and prepared mode the text has $1
# and is analysed once.
#
# Before measuring, every target is checked: a deleted aid gives no row
# (through softdel without any filter, in every mode measured), a live one
# gives its row, a deleted aid straight to PostgreSQL without the filter
# gives its row, and softdel counts only the live rows.
#
# The target of the design: softdel/pgbouncer >= 0.95 in TPS at every
# point; the report says where it is met.
#
# Usage: benches/hiding.sh [--out FILE]
#
#   --out FILE   also write the report (machine info + tables) to FILE
#
# Environment:
#   DURATION         seconds per pgbench run (default 10)
#   WARMUP           seconds of warm-up per target before measuring (default 3, 0 = none)
#   SCALE            pgbench scale factor: 100,000 accounts each (default 10)
#   DELETED_EVERY    every DELETED_EVERY-th account is soft-deleted (default 100: 1%)
#   MARKER           timestamp (default: column deleted_at timestamptz, live while
#                    NULL) or flag (column is_active boolean, live while not false)
#   MODES            pgbench -M modes (default "simple extended prepared")
#   CLIENTS          client counts (default "1 8")
#   TARGETS          a subset of the default "softdel pgbouncer direct softdel-filtered"
#   MAX_THREADS      pgbench -j is min(clients, MAX_THREADS) (default 2)
#   POSTGRES_BINDIR  PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
#
# PG* and SOFTDEL_* variables from the caller's environment are ignored.
# Everything (cluster, proxies, logs) lives in a temp dir that is removed on
# exit. Progress goes to stderr, the report to stdout. Runs as root (installs
# missing packages with apt-get, runs postgres/pgbouncer as `postgres`) or as
# an ordinary user when everything is already installed.
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init "$@"
export PGCONNECT_TIMEOUT=5

DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
SCALE="${SCALE:-10}"
DELETED_EVERY="${DELETED_EVERY:-100}"
MARKER="${MARKER:-timestamp}"
MAX_THREADS="${MAX_THREADS:-2}"
POSTGRES_BINDIR="${POSTGRES_BINDIR:-/usr/lib/postgresql/15/bin}"
read -r -a MODES <<<"${MODES:-simple extended prepared}"
read -r -a CLIENTS <<<"${CLIENTS:-1 8}"
readonly ALL_TARGETS=(softdel pgbouncer direct softdel-filtered)
read -r -a TARGETS <<<"${TARGETS:-${ALL_TARGETS[*]}}"
readonly DB=bench
readonly DB_USER=postgres
readonly TABLE=pgbench_accounts
# The design's target (see the usage text).
readonly MIN_SOFTDEL_PGBOUNCER=0.95

ACCOUNTS=0        # rows of pgbench_accounts (100,000 * SCALE)
DELETED=0         # of which soft-deleted
DELETED_AID=""    # an aid soft-deleted, and a live one, for the checks
LIVE_AID=""
MARKER_COLUMN=""  # deleted_at or is_active
LIVE_FILTER=""    # the filter a user writes by hand
DELETED_SET=""    # what marks a row deleted
REWRITTEN=""      # what softdel sends for the plain query

parse_args() {
    parse_common_args "$@"
    [[ "$SCALE" =~ ^[1-9][0-9]*$ ]] || die "SCALE must be a positive integer (got '$SCALE')"
    if ! [[ "$DELETED_EVERY" =~ ^[1-9][0-9]*$ ]] || ((DELETED_EVERY < 2)); then
        die "DELETED_EVERY must be an integer >= 2 (got '$DELETED_EVERY')"
    fi
    [[ "$MAX_THREADS" =~ ^[1-9][0-9]*$ ]] || die "MAX_THREADS must be a positive integer (got '$MAX_THREADS')"
    case "$MARKER" in
        timestamp) MARKER_COLUMN=deleted_at LIVE_FILTER="deleted_at IS NULL" DELETED_SET="deleted_at = now()" ;;
        flag) MARKER_COLUMN=is_active LIVE_FILTER="is_active" DELETED_SET="is_active = false" ;;
        *) die "MARKER must be timestamp or flag (got '$MARKER')" ;;
    esac
    check_lists "TARGETS is empty"
    ACCOUNTS=$((100000 * SCALE))
    DELETED=$((ACCOUNTS / DELETED_EVERY))
    DELETED_AID=$DELETED_EVERY
    LIVE_AID=$((DELETED_EVERY + 1))
    check_out_file
}

wants() { [[ " ${TARGETS[*]} " == *" $1 "* ]]; }

# --- installation --------------------------------------------------------

ensure_packages() {
    find_pgbouncer
    local missing=()
    have_postgres || missing+=(postgresql-15)
    if wants pgbouncer && [[ -z "$PGBOUNCER_BIN" ]]; then missing+=(pgbouncer); fi
    ((${#missing[@]})) || return 0
    is_root || die "missing: ${missing[*]} (PostgreSQL binaries looked for in $POSTGRES_BINDIR); run as root or: apt-get install ${missing[*]}"
    begin_install "missing packages: ${missing[*]}"
    apt_install "${missing[@]}" || die "could not install ${missing[*]}"
    have_postgres || die "postgresql-15 installed but binaries not found in $POSTGRES_BINDIR"
    if wants pgbouncer; then
        find_pgbouncer
        [[ -n "$PGBOUNCER_BIN" ]] || die "pgbouncer installed but not found"
    fi
}

# --- setup ---------------------------------------------------------------

start_postgres_for_reads() {
    # Throwaway cluster: durability off (reads only), as in proxy_overhead.sh.
    start_postgres hiding.sh "${NO_DURABILITY[@]}" "max_connections = 200"
}

# pgbench_accounts with its marker column; every DELETED_EVERY-th account
# marked deleted (before the guard is installed, so the journal stays
# empty), then vacuumed and analyzed.
create_schema() {
    log "creating database '$DB', pgbench -i -s $SCALE, marking $DELETED of $ACCOUNTS accounts deleted ($MARKER_COLUMN)"
    pgbench_init "$SCALE"
    if [[ "$MARKER" == timestamp ]]; then
        sql "ALTER TABLE $TABLE ADD COLUMN deleted_at timestamptz" >/dev/null
    else
        sql "ALTER TABLE $TABLE ADD COLUMN is_active boolean NOT NULL DEFAULT true" >/dev/null
    fi
    sql "UPDATE $TABLE SET $DELETED_SET WHERE aid % $DELETED_EVERY = 0" >/dev/null
    sql "VACUUM ANALYZE $TABLE" >/dev/null
    sql "CHECKPOINT" >/dev/null
}

write_rules() {
    cat >"$WORK/rules.yaml" <<EOF
defaults:
  on_delete: allow
tables:
  $TABLE:
    on_delete: soft
    $MARKER: $MARKER_COLUMN
    # hide: true, the default
EOF
    check_rules
    grep -q "^$TABLE: soft, .*deleted rows hidden" "$WORK/rules-check.log" \
        || { cat "$WORK/rules-check.log" >&2; die "softdel rules check does not say $TABLE's deleted rows are hidden"; }
}

plain_query() { echo "SELECT abalance FROM $TABLE WHERE aid = $1"; }
filtered_query() { echo "SELECT abalance FROM $TABLE WHERE aid = $1 AND $LIVE_FILTER"; }

# What softdel sends for the plain query (its decision line dropped), one line.
rewritten_query() {
    local out
    # shellcheck disable=SC2016 # $1 is SQL, not a shell expansion
    out="$("$SOFTDEL_BIN" rewrite --rules "$WORK/rules.yaml" "$(plain_query '$1')")" \
        || die "softdel rewrite failed"
    REWRITTEN="$(tail -n +2 <<<"$out" | tr '\n' ' ' | sed -E 's/[[:space:]]+/ /g; s/ $//')"
    # shellcheck disable=SC2016
    [[ "$REWRITTEN" != "$(plain_query '$1')" && "$REWRITTEN" == *"$TABLE.$MARKER_COLUMN"* ]] \
        || die "softdel rewrite does not hide $TABLE's deleted rows: $out"
}

# pgbench scripts: plain (what the application sends through softdel) and
# filtered (the filter by hand).
write_scripts() {
    printf '\\set aid random(1, :naccounts)\n%s;\n' "$(plain_query :aid)" >"$WORK/plain.sql"
    printf '\\set aid random(1, :naccounts)\n%s;\n' "$(filtered_query :aid)" >"$WORK/filtered.sql"
    # For the checks: one row into a variable (\gset fails on no row).
    printf '%s \\gset\n' "$(plain_query :aid)" >"$WORK/check_plain.sql"
    printf '%s \\gset\n' "$(filtered_query :aid)" >"$WORK/check_filtered.sql"
}

# --- the targets ---------------------------------------------------------

target_port() {
    case "$1" in
        direct) echo "$DIRECT_PORT" ;;
        softdel|softdel-filtered) echo "$SOFTDEL_PORT" ;;
        pgbouncer) echo "$BOUNCER_PORT" ;;
    esac
}

# The script a target runs: plain for softdel, filtered by hand otherwise.
target_script() {
    case "$1" in
        softdel) echo plain ;;
        *) echo filtered ;;
    esac
}

# The pid of a proxy target's process (the one that does the work).
proxy_pid() {
    case "$1" in
        softdel|softdel-filtered) echo "$SOFTDEL_PID" ;;
        pgbouncer) cat "$WORK/pgbouncer/pgbouncer.pid" 2>/dev/null ;;
    esac
}

# rows_at PORT SQL: the number of rows SQL returns through PORT.
rows_at() {
    local out
    out="$(psql_at "$1" -d "$DB" -c "$2")" || die "query failed through port $1: $2"
    if [[ -z "$out" ]]; then echo 0; else wc -l <<<"$out"; fi
}

# expect_rows WHAT WANT GOT
expect_rows() {
    [[ "$3" == "$2" ]] || die "check failed: $1 gave $3 row(s), expected $2"
    log "check: $1: $3 row(s)"
}

# gset_check TARGET MODE AID WANT: one transaction of the target's query for
# AID, its row read with \gset, in pgbench mode MODE; WANT is row (the
# transaction succeeds) or none (it fails: "expected one row, got 0").
gset_check() {
    local target="$1" mode="$2" aid="$3" want="$4" out rc=0
    out="$("$POSTGRES_BINDIR/pgbench" -n -M "$mode" -c 1 -j 1 -t 1 -D aid="$aid" \
        -f "$WORK/check_$(target_script "$target").sql" \
        -h 127.0.0.1 -p "$(target_port "$target")" -U "$DB_USER" "$DB" 2>&1)" || rc=$?
    if [[ "$want" == row ]]; then
        ((rc == 0)) || { printf '%s\n' "$out" >&2; die "check failed: aid $aid through $target (-M $mode) gave no row"; }
    elif ((rc == 0)) || [[ "$out" != *"expected one row, got 0"* ]]; then
        printf '%s\n' "$out" >&2
        die "check failed: deleted aid $aid through $target (-M $mode) was not hidden"
    fi
}

# Before anything is measured: the deleted rows are there, and every target
# hides them (softdel without being asked to), in every mode measured.
check_hiding() {
    local live t mode
    expect_rows "deleted aid $DELETED_AID straight to PostgreSQL, no filter" 1 \
        "$(rows_at "$DIRECT_PORT" "$(plain_query "$DELETED_AID")")"
    live="$(sql "SELECT count(*) FROM $TABLE WHERE $LIVE_FILTER")"
    [[ "$live" == "$((ACCOUNTS - DELETED))" ]] \
        || die "check failed: $live live accounts, expected $((ACCOUNTS - DELETED))"
    [[ "$(psql_at "$SOFTDEL_PORT" -d "$DB" -c "SELECT count(*) FROM $TABLE")" == "$live" ]] \
        || die "check failed: softdel does not count only the $live live accounts"
    log "check: softdel counts $live accounts of $ACCOUNTS"
    expect_rows "deleted aid $DELETED_AID through softdel, no filter" 0 \
        "$(rows_at "$SOFTDEL_PORT" "$(plain_query "$DELETED_AID")")"
    expect_rows "live aid $LIVE_AID through softdel, no filter" 1 \
        "$(rows_at "$SOFTDEL_PORT" "$(plain_query "$LIVE_AID")")"
    for t in "${TARGETS[@]}"; do
        for mode in "${MODES[@]}"; do
            gset_check "$t" "$mode" "$DELETED_AID" none
            gset_check "$t" "$mode" "$LIVE_AID" row
        done
        log "check: $t ($(target_script "$t") query) hides aid $DELETED_AID and gives aid $LIVE_AID in -M ${MODES[*]}"
    done
}

# --- measuring -----------------------------------------------------------

# run_pgbench TARGET MODE CLIENTS SECONDS: prints pgbench's output; fails like pgbench.
run_pgbench() {
    pgbench_through "$@" -D naccounts="$ACCOUNTS" -f "$WORK/$(target_script "$1").sql"
}

# --- report --------------------------------------------------------------

machine_info() {
    local pg_version bouncer_version="not measured"
    pg_version="$(psql_at "$DIRECT_PORT" -d postgres -c 'show server_version')"
    [[ -n "$BOUNCER_PORT" ]] && bouncer_version="$(pgbouncer_version)"
    report_heading "softdel hiding: a select by primary key on a hidden soft table"
    echo "- PostgreSQL: $pg_version (fsync=off); $TABLE: $ACCOUNTS rows (pgbench -i -s $SCALE), $DELETED soft-deleted (every ${DELETED_EVERY}th aid, $MARKER_COLUMN)"
    echo "- pgbouncer: $bouncer_version"
    echo "- softdel: $(softdel_rev) (release build); rules: $TABLE on_delete soft, $MARKER $MARKER_COLUMN, hidden; guard installed with softdel init --rules"
    echo "- command: DURATION=$DURATION WARMUP=$WARMUP SCALE=$SCALE DELETED_EVERY=$DELETED_EVERY MARKER=$MARKER MODES=\"${MODES[*]}\" CLIENTS=\"${CLIENTS[*]}\" TARGETS=\"${TARGETS[*]}\" MAX_THREADS=$MAX_THREADS $COMMAND_LINE"
    echo "- pgbench: pgbench -n -M <mode> -c <clients> -j min(<clients>,$MAX_THREADS) -T $DURATION -D naccounts=$ACCOUNTS -f <script>"
    echo "- plain script (softdel): \\set aid random(1, :naccounts); $(plain_query :aid);"
    echo "- filtered script (pgbouncer, direct, softdel-filtered): \\set aid random(1, :naccounts); $(filtered_query :aid);"
    echo "- softdel sends for the plain query: $REWRITTEN"
    echo "- latency: pgbench's latency average per transaction, ms; softdel-pgb: what softdel adds over PgBouncer, µs"
    echo "- checked before measuring: aid $DELETED_AID (deleted) gives no row through every target in -M ${MODES[*]} (1 row straight to PostgreSQL without the filter), aid $LIVE_AID its row"
    echo "- note: pgbench, the proxies and PostgreSQL share the same $(nproc) CPUs"
    echo
}

# One markdown table row, padded so the raw text lines up too.
row() {
    printf '| %-8s | %7s | %11s | %13s | %10s | %20s | %10s | %12s | %9s | %17s | %14s | %23s | %16s |\n' "$@"
}

table() {
    # printf pads by bytes, so the header cell with the 2-byte "µ" gets an extra space.
    row mode clients "softdel TPS" "pgbouncer TPS" "direct TPS" "softdel-filtered TPS" \
        "softdel ms" "pgbouncer ms" "direct ms" "softdel/pgbouncer" "softdel/direct" \
        "softdel-filtered/softdel" " softdel-pgb µs"
    row -------- ------: ----------: ------------: ---------: -------------------: \
        ---------: -----------: --------: ----------------: -------------: ----------------------: ---------------:
    local mode clients k
    for mode in "${MODES[@]}"; do
        for clients in "${CLIENTS[@]}"; do
            k="$mode,$clients"
            row "$mode" "$clients" \
                "$(fmt_num "${TPS[$k,softdel]:-}" %.0f)" "$(fmt_num "${TPS[$k,pgbouncer]:-}" %.0f)" \
                "$(fmt_num "${TPS[$k,direct]:-}" %.0f)" "$(fmt_num "${TPS[$k,softdel-filtered]:-}" %.0f)" \
                "$(fmt_num "${LAT[$k,softdel]:-}" %.3f)" "$(fmt_num "${LAT[$k,pgbouncer]:-}" %.3f)" \
                "$(fmt_num "${LAT[$k,direct]:-}" %.3f)" \
                "$(ratio "${TPS[$k,softdel]:-}" "${TPS[$k,pgbouncer]:-}")" \
                "$(ratio "${TPS[$k,softdel]:-}" "${TPS[$k,direct]:-}")" \
                "$(ratio "${TPS[$k,softdel-filtered]:-}" "${TPS[$k,softdel]:-}")" \
                "$(added_us "${LAT[$k,softdel]:-}" "${LAT[$k,pgbouncer]:-}")"
        done
    done
}

# The proxies' CPU per transaction, when both are measured.
proxies_cpu() {
    if ! { wants softdel && wants pgbouncer; }; then return 0; fi
    cpu_table
}

# What the design set out to reach, point by point.
targets() {
    if ! { wants softdel && wants pgbouncer; }; then return 0; fi
    local met=() missed=()
    score_points TPS softdel pgbouncer at_least "$MIN_SOFTDEL_PGBOUNCER"
    echo
    printf -- '- target softdel/pgbouncer >= %s in TPS: %s\n' "$MIN_SOFTDEL_PGBOUNCER" "$(met_missed)"
}

main() {
    parse_args "$@"
    install_traps

    ensure_packages
    build_softdel
    make_workdir pgbouncer
    start_postgres_for_reads
    create_schema
    write_rules
    # The guard of pgbench_accounts: reported as added, and its triggers there.
    install_guard "$TABLE" "$TABLE.softdel_guard_update" "$TABLE.softdel_guard_delete"
    rewritten_query
    write_scripts
    start_softdel --rules "$WORK/rules.yaml"
    # shellcheck disable=SC2119 # no extra pgbouncer settings
    if wants pgbouncer; then start_pgbouncer; fi
    check_hiding
    warm_up "${TARGETS[@]}"
    run_matrix measure_point "${TARGETS[@]}"
    report machine_info table proxies_cpu targets
    ((FAILURES == 0)) || die "$FAILURES pgbench run(s) failed (marked 'fail' in the table)"
}

main "$@"
