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

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
# Captured before argument parsing so the report shows exactly what was run.
COMMAND_LINE="$(printf '%q ' "$0" "$@")"
COMMAND_LINE="${COMMAND_LINE% }"
readonly SCRIPT_DIR REPO_ROOT COMMAND_LINE
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

clear_caller_env
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

OUT_FILE=""
WORK=""           # temp dir holding everything below
PGDATA_DIR=""
DIRECT_PORT=""    # PostgreSQL itself
SOFTDEL_PORT=""
BOUNCER_PORT=""
PGBOUNCER_BIN=""
SOFTDEL_BIN=""
SOFTDEL_PID=""
BOUNCER_PID=""    # pid of the (runuser ->) pgbouncer we started
PG_STARTED=0
INTERRUPTED=0
USED_PORTS=()
FAILURES=0
ACCOUNTS=0        # rows of pgbench_accounts (100,000 * SCALE)
DELETED=0         # of which soft-deleted
DELETED_AID=""    # an aid soft-deleted, and a live one, for the checks
LIVE_AID=""
MARKER_COLUMN=""  # deleted_at or is_active
LIVE_FILTER=""    # the filter a user writes by hand
DELETED_SET=""    # what marks a row deleted
REWRITTEN=""      # what softdel sends for the plain query
declare -A TPS=() LAT=() CPU=()


# The comment block at the top, up to the first line that is not a comment.
usage() { awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"; }

parse_args() {
    while (($#)); do
        case "$1" in
            --out)    [[ $# -ge 2 ]] || die "--out needs a file name"; OUT_FILE="$2"; shift 2 ;;
            --out=*)  OUT_FILE="${1#--out=}"; shift ;;
            -h|--help) usage; exit 0 ;;
            *) usage >&2; die "unknown argument: $1" ;;
        esac
    done
    [[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer (got '$DURATION')"
    [[ "$WARMUP" =~ ^[0-9]+$ ]] || die "WARMUP must be a non-negative integer (got '$WARMUP')"
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
    ((${#MODES[@]})) || die "MODES is empty"
    ((${#CLIENTS[@]})) || die "CLIENTS is empty"
    ((${#TARGETS[@]})) || die "TARGETS is empty"
    local m c t
    for m in "${MODES[@]}"; do
        [[ "$m" =~ ^(simple|extended|prepared)$ ]] || die "MODES: unknown pgbench mode '$m'"
    done
    for c in "${CLIENTS[@]}"; do
        [[ "$c" =~ ^[1-9][0-9]*$ ]] || die "CLIENTS: not a positive integer: '$c'"
    done
    for t in "${TARGETS[@]}"; do
        [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || die "TARGETS: unknown target '$t' (known: ${ALL_TARGETS[*]})"
    done
    ACCOUNTS=$((100000 * SCALE))
    DELETED=$((ACCOUNTS / DELETED_EVERY))
    DELETED_AID=$DELETED_EVERY
    LIVE_AID=$((DELETED_EVERY + 1))
    if [[ -n "$OUT_FILE" ]]; then
        # Fail now rather than after minutes of benchmarking.
        local out_dir
        out_dir="$(cd "$(dirname "$OUT_FILE")" 2>/dev/null && pwd)" \
            || die "directory of --out file does not exist: $OUT_FILE"
        OUT_FILE="$out_dir/$(basename "$OUT_FILE")"
        if [[ -e "$OUT_FILE" ]]; then
            [[ -w "$OUT_FILE" ]] || die "cannot write $OUT_FILE"
        else
            [[ -w "$out_dir" ]] || die "cannot create files in $out_dir"
        fi
    fi
}

wants() { [[ " ${TARGETS[*]} " == *" $1 "* ]]; }

# --- installation --------------------------------------------------------

find_pgbouncer() {
    # /usr/sbin is often not on a non-root user's PATH.
    PGBOUNCER_BIN="$(command -v pgbouncer || true)"
    if [[ -z "$PGBOUNCER_BIN" && -x /usr/sbin/pgbouncer ]]; then
        PGBOUNCER_BIN=/usr/sbin/pgbouncer
    fi
}

apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" </dev/null >&2
}

ensure_packages() {
    find_pgbouncer
    local missing=()
    have_postgres || missing+=(postgresql-15)
    if wants pgbouncer && [[ -z "$PGBOUNCER_BIN" ]]; then missing+=(pgbouncer); fi
    ((${#missing[@]})) || return 0
    is_root || die "missing: ${missing[*]} (PostgreSQL binaries looked for in $POSTGRES_BINDIR); run as root or: apt-get install ${missing[*]}"
    # On a systemd host the packages also start their default services
    # (postgresql on 5432, pgbouncer on 6432); ours use other ports.
    log "installing missing packages: ${missing[*]}"
    apt-get update -q </dev/null >&2 || warn "apt-get update failed; trying to install anyway"
    apt_install "${missing[@]}" || die "could not install ${missing[*]}"
    have_postgres || die "postgresql-15 installed but binaries not found in $POSTGRES_BINDIR"
    if wants pgbouncer; then
        find_pgbouncer
        [[ -n "$PGBOUNCER_BIN" ]] || die "pgbouncer installed but not found"
    fi
}

# --- helpers -------------------------------------------------------------

# SQL straight to PostgreSQL (setup and checks of the data).
sql() { psql_at "$DIRECT_PORT" -d "$DB" -c "$1"; }

database_url() { echo "postgres://$DB_USER@127.0.0.1:$DIRECT_PORT/$DB"; }

dump_logs() {
    local f
    for f in "$WORK"/postgres.log "$WORK"/softdel.log "$WORK"/pgbouncer/pgbouncer.log; do
        [[ -s "$f" ]] || continue
        printf '\n[bench] --- last lines of %s ---\n' "${f#"$WORK"/}" >&2
        tail -n 30 "$f" >&2
    done
}

# Runs on every exit (normal, error, Ctrl-C): stop what we started, drop temp files.
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    # Logs help explain a failure, not a Ctrl-C.
    if [[ -n "$WORK" && $rc -ne 0 && $INTERRUPTED -eq 0 ]]; then dump_logs; fi
    if [[ -n "$BOUNCER_PID" ]]; then
        # Signal pgbouncer itself (pidfile) rather than rely on runuser forwarding it.
        local bpid
        bpid="$(cat "$WORK/pgbouncer/pgbouncer.pid" 2>/dev/null)"
        [[ -n "$bpid" ]] && kill_wait "$bpid"
        kill_wait "$BOUNCER_PID"
    fi
    [[ -n "$SOFTDEL_PID" ]] && kill_wait "$SOFTDEL_PID"
    if ((PG_STARTED)); then
        as_pg "$POSTGRES_BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m immediate -w >/dev/null 2>&1
    fi
    [[ -n "$WORK" ]] && rm -rf "$WORK"
    exit "$rc"
}

# --- setup ---------------------------------------------------------------

make_workdir() {
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/softdel-bench.XXXXXX")"
    PGDATA_DIR="$WORK/data"
    mkdir -p "$WORK/pgbouncer"
    if is_root; then
        id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist"
        chown -R postgres: "$WORK"
    fi
}

start_postgres() {
    pick_free_port DIRECT_PORT
    log "initdb + starting PostgreSQL on 127.0.0.1:$DIRECT_PORT"
    as_pg "$POSTGRES_BINDIR/initdb" -D "$PGDATA_DIR" -U "$DB_USER" --auth=trust --no-sync \
        -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 \
        || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
    # Throwaway cluster: durability off (reads only), as in proxy_overhead.sh.
    cat >>"$PGDATA_DIR/postgresql.conf" <<EOF

# --- hiding.sh ---
listen_addresses = '127.0.0.1'
port = $DIRECT_PORT
unix_socket_directories = '$WORK'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    PG_STARTED=1
    as_pg "$POSTGRES_BINDIR/pg_ctl" start -D "$PGDATA_DIR" -l "$WORK/postgres.log" -w -t 60 >/dev/null \
        || die "PostgreSQL failed to start"
}

# pgbench_accounts with its marker column; every DELETED_EVERY-th account
# marked deleted (before the guard is installed, so the journal stays
# empty), then vacuumed and analyzed.
create_schema() {
    log "creating database '$DB', pgbench -i -s $SCALE, marking $DELETED of $ACCOUNTS accounts deleted ($MARKER_COLUMN)"
    psql_at "$DIRECT_PORT" -d postgres -c "create database $DB"
    "$POSTGRES_BINDIR/pgbench" -i -q -s "$SCALE" -h 127.0.0.1 -p "$DIRECT_PORT" -U "$DB_USER" "$DB" \
        >"$WORK/pgbench-init.log" 2>&1 \
        || { cat "$WORK/pgbench-init.log" >&2; die "pgbench -i failed"; }
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
    "$SOFTDEL_BIN" rules check "$WORK/rules.yaml" >"$WORK/rules-check.log" 2>&1 \
        || { cat "$WORK/rules-check.log" >&2; die "the benchmark's rules file is refused"; }
    grep -q "^$TABLE: soft, .*deleted rows hidden" "$WORK/rules-check.log" \
        || { cat "$WORK/rules-check.log" >&2; die "softdel rules check does not say $TABLE's deleted rows are hidden"; }
}

# The guard of pgbench_accounts; reported as added, and its triggers there.
install_guard() {
    log "installing the journal and the guard (softdel init --rules)"
    "$SOFTDEL_BIN" init --database-url "$(database_url)" --rules "$WORK/rules.yaml" \
        </dev/null >"$WORK/init.log" 2>&1 \
        || { cat "$WORK/init.log" >&2; die "softdel init --rules failed"; }
    grep -Eq "^(public\.)?${TABLE}[[:space:]].*[[:space:]]added[[:space:]]*\$" "$WORK/init.log" \
        || { cat "$WORK/init.log" >&2; die "softdel init --rules did not report the guard of $TABLE as added (output above)"; }
    local triggers t
    triggers="$(sql "SELECT string_agg(tgrelid::regclass || '.' || tgname, ' ' ORDER BY 1)
                     FROM pg_trigger WHERE tgname LIKE 'softdel\_guard\_%' AND tgenabled = 'A'")"
    for t in "$TABLE.softdel_guard_update" "$TABLE.softdel_guard_delete"; do
        [[ " $triggers " == *" $t "* ]] || die "guard trigger $t missing after softdel init (installed: ${triggers:-none})"
    done
    log "guard installed: $triggers"
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

start_softdel() {
    pick_free_port SOFTDEL_PORT
    log "starting softdel on 127.0.0.1:$SOFTDEL_PORT -> 127.0.0.1:$DIRECT_PORT with $WORK/rules.yaml"
    "$SOFTDEL_BIN" proxy --listen "127.0.0.1:$SOFTDEL_PORT" --upstream "127.0.0.1:$DIRECT_PORT" \
        --rules "$WORK/rules.yaml" </dev/null >"$WORK/softdel.log" 2>&1 &
    SOFTDEL_PID=$!
    wait_for_sql softdel "$SOFTDEL_PORT" "$SOFTDEL_PID"
}

start_pgbouncer() {
    wants pgbouncer || return 0
    pick_free_port BOUNCER_PORT
    log "starting pgbouncer (session mode) on 127.0.0.1:$BOUNCER_PORT"
    local dir="$WORK/pgbouncer"
    # auth_type=trust still requires the user to be listed in auth_file.
    printf '"%s" ""\n' "$DB_USER" >"$dir/userlist.txt"
    cat >"$dir/pgbouncer.ini" <<EOF
[databases]
$DB = host=127.0.0.1 port=$DIRECT_PORT dbname=$DB

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = session
max_client_conn = 200
default_pool_size = 100
pidfile = $dir/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
EOF
    is_root && chown -R postgres: "$dir"
    # Foreground process in the background (not -d) so we own its pid. It
    # logs to stderr; no `logfile`, as root creates the redirect target.
    as_pg "$PGBOUNCER_BIN" "$dir/pgbouncer.ini" </dev/null >>"$dir/pgbouncer.log" 2>&1 &
    BOUNCER_PID=$!
    wait_for_sql pgbouncer "$BOUNCER_PORT" "$BOUNCER_PID"
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
    local target="$1" mode="$2" clients="$3" secs="$4"
    local threads=$((clients < MAX_THREADS ? clients : MAX_THREADS))
    "$POSTGRES_BINDIR/pgbench" -n -M "$mode" -c "$clients" -j "$threads" -T "$secs" \
        -D naccounts="$ACCOUNTS" -f "$WORK/$(target_script "$target").sql" \
        -h 127.0.0.1 -p "$(target_port "$target")" -U "$DB_USER" "$DB" 2>&1
}

# Warm caches (and prove each target works) before the first measured point,
# so the first column measured is not penalised.
warm_up() {
    ((WARMUP > 0)) || return 0
    local t
    for t in "${TARGETS[@]}"; do
        log "warm-up: $t (${WARMUP}s)"
        run_pgbench "$t" simple 2 "$WARMUP" >"$WORK/warmup.log" \
            || { warn "warm-up through $t failed:"; tail -n 20 "$WORK/warmup.log" >&2; }
    done
}

# CPU time (user + system) a process has used, in clock ticks.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo ""
}

# measure TARGET MODE CLIENTS: fill TPS/LAT for that point ("fail" on
# error), and for a proxy the CPU it spent per transaction (µs).
measure() {
    local target="$1" mode="$2" clients="$3" key="$2,$3,$1" out="" pid before="" after="" txs=""
    log "pgbench -M $mode -c $clients -> $target (${DURATION}s)"
    pid="$(proxy_pid "$target")"
    [[ -n "$pid" ]] && before="$(cpu_ticks "$pid")"
    if out="$(run_pgbench "$target" "$mode" "$clients" "$DURATION")"; then
        TPS[$key]="$(awk '/^tps = .*without initial connection time/ { print $3 }' <<<"$out")"
        LAT[$key]="$(awk '/^latency average = / { print $4 }' <<<"$out")"
        txs="$(awk -F': ' '/^number of transactions actually processed/ { split($2, a, "/"); print a[1] }' <<<"$out")"
        [[ -n "$pid" ]] && after="$(cpu_ticks "$pid")"
        if [[ -n "$before" && -n "$after" && "$txs" =~ ^[0-9]+$ ]] && ((txs > 0)); then
            CPU[$key]="$(awk -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" -v n="$txs" \
                'BEGIN { printf "%.2f", t * 1e6 / hz / n }')"
        fi
    fi
    if [[ -z "${TPS[$key]:-}" || -z "${LAT[$key]:-}" ]]; then
        warn "pgbench through $target failed (mode=$mode clients=$clients):"
        tail -n 20 <<<"$out" >&2
        if [[ "$target" == softdel* ]] && ! kill -0 "$SOFTDEL_PID" 2>/dev/null; then
            warn "the softdel process has exited; see softdel.log at the end"
        fi
        TPS[$key]=fail LAT[$key]=fail
        FAILURES=$((FAILURES + 1))
    fi
}

run_matrix() {
    local mode clients t
    for mode in "${MODES[@]}"; do
        for clients in "${CLIENTS[@]}"; do
            # Targets back to back per point, so drift (thermal, noisy
            # neighbours) hits all columns of a row alike.
            for t in "${TARGETS[@]}"; do
                measure "$t" "$mode" "$clients"
            done
        done
    done
}

# --- report --------------------------------------------------------------

# ratio A B: A/B with 3 decimals, "-" if either is not a number.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.3f", a / b; else printf "-" }'; }

# at_least VALUE LIMIT: exit status 0 when VALUE is a number >= LIMIT.
at_least() { awk -v v="$1" -v l="$2" 'BEGIN { exit !(v ~ /^[0-9.]+$/ && v + 0 >= l + 0) }'; }

machine_info() {
    local pg_version bouncer_version="not measured" softdel_rev cpu
    pg_version="$(psql_at "$DIRECT_PORT" -d postgres -c 'show server_version')"
    if [[ -n "$BOUNCER_PORT" ]]; then
        bouncer_version="$("$PGBOUNCER_BIN" --version 2>&1 | head -n 1) (session mode)"
    fi
    softdel_rev="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
    echo "## softdel hiding: a select by primary key on a hidden soft table"
    echo
    echo "- machine: nproc=$(nproc), ${cpu:-unknown CPU}, $(uname -sr)"
    echo "- PostgreSQL: $pg_version (fsync=off); $TABLE: $ACCOUNTS rows (pgbench -i -s $SCALE), $DELETED soft-deleted (every ${DELETED_EVERY}th aid, $MARKER_COLUMN)"
    echo "- pgbouncer: $bouncer_version"
    echo "- softdel: $softdel_rev (release build); rules: $TABLE on_delete soft, $MARKER $MARKER_COLUMN, hidden; guard installed with softdel init --rules"
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

# The proxies' CPU per transaction, side by side.
cpu_row() {
    printf '| %-8s | %7s | %19s | %21s | %17s |\n' "$@"
}

cpu_table() {
    if ! { wants softdel && wants pgbouncer; }; then return 0; fi
    echo
    echo "CPU per transaction (user + system time of the proxy process / transactions):"
    echo
    cpu_row mode clients "softdel µs/tx" "pgbouncer µs/tx" "softdel/pgbouncer"
    cpu_row -------- ------: ------------------: --------------------: ----------------:
    local mode clients k
    for mode in "${MODES[@]}"; do
        for clients in "${CLIENTS[@]}"; do
            k="$mode,$clients"
            cpu_row "$mode" "$clients" "$(fmt_num "${CPU[$k,softdel]:-}" %.2f)" \
                "$(fmt_num "${CPU[$k,pgbouncer]:-}" %.2f)" "$(ratio "${CPU[$k,softdel]:-}" "${CPU[$k,pgbouncer]:-}")"
        done
    done
}

# What the design set out to reach, point by point.
targets() {
    if ! { wants softdel && wants pgbouncer; }; then return 0; fi
    local mode clients r met=() missed=() m=""
    for mode in "${MODES[@]}"; do
        for clients in "${CLIENTS[@]}"; do
            r="$(ratio "${TPS[$mode,$clients,softdel]:-}" "${TPS[$mode,$clients,pgbouncer]:-}")"
            if at_least "$r" "$MIN_SOFTDEL_PGBOUNCER"; then met+=("$mode/$clients $r"); else missed+=("$mode/$clients $r"); fi
        done
    done
    echo
    printf -- '- target softdel/pgbouncer >= %s in TPS: ' "$MIN_SOFTDEL_PGBOUNCER"
    if ((${#missed[@]})); then
        for r in "${missed[@]}"; do m+="${m:+, }$r"; done
        printf '**not met** (%d of %d points): %s' "${#missed[@]}" "$((${#met[@]} + ${#missed[@]}))" "$m"
        m=""
        for r in "${met[@]}"; do m+="${m:+, }$r"; done
        [[ -n "$m" ]] && printf '; met: %s' "$m"
    else
        for r in "${met[@]}"; do m+="${m:+, }$r"; done
        printf 'met at every point: %s' "$m"
    fi
    echo
}

report() {
    local text
    text="$(machine_info; table; cpu_table; targets)"
    printf '%s\n' "$text"
    if [[ -n "$OUT_FILE" ]]; then
        printf '%s\n' "$text" >"$OUT_FILE"
        log "report written to $OUT_FILE"
    fi
}

main() {
    parse_args "$@"
    trap cleanup EXIT
    trap 'INTERRUPTED=1; exit 130' INT
    trap 'INTERRUPTED=1; exit 143' TERM

    ensure_packages
    build_softdel
    make_workdir
    start_postgres
    create_schema
    write_rules
    install_guard
    rewritten_query
    write_scripts
    start_softdel
    start_pgbouncer
    check_hiding
    warm_up
    run_matrix
    report
    ((FAILURES == 0)) || die "$FAILURES pgbench run(s) failed (marked 'fail' in the table)"
}

main "$@"
