#!/usr/bin/env bash
# What a protected DELETE costs: a single-row DELETE run with pgbench
# against PostgreSQL directly (a hard DELETE on an unprotected table) and
# through softdel on three tables:
#
#   direct  hard DELETE on items_plain, straight to PostgreSQL
#   pass    the same DELETE on items_plain through softdel, whose rule
#           (allow, max_rows 0) sends it unchanged: the proxy's own cost
#   limit   through softdel on items_limited, a table the rules do not list:
#           rewritten only to enforce the default row limit (1000)
#   soft    through softdel on items, a soft table (flag is_active): the
#           DELETE becomes an UPDATE plus two journal INSERTs
#   sql     the statement softdel sends for that DELETE (from `softdel
#           rewrite`), run straight against PostgreSQL: what the soft delete
#           costs the server, without the proxy
#
# Usage: benches/soft_delete.sh [--out FILE]
#
#   --out FILE   also write the report (machine info + table) to FILE
#
# Environment:
#   DURATION         seconds per pgbench run (default 10)
#   WARMUP           seconds of warm-up per target before measuring (default 3, 0 = none)
#   ROWS             rows in each table before every run (default 60000 * DURATION)
#   MODES            pgbench -M modes (default "simple extended prepared")
#   CLIENTS          client counts (default "1 8")
#   MAX_THREADS      pgbench -j is min(clients, MAX_THREADS) (default 2)
#   DURABILITY       off (default): fsync, synchronous_commit and
#                    full_page_writes off, so the figures show the statements'
#                    CPU cost, the worst case for the ratios; on: PostgreSQL's
#                    defaults, where every commit waits for its WAL flush, as
#                    on a production server
#   POSTGRES_BINDIR  PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
#
# Every transaction deletes a row of its own (client c deletes ids c+1,
# c+1+C, c+1+2C, ... for C clients), and the table is refilled and the
# journal emptied before every run, so each run starts from the same state;
# afterwards the rows removed are checked against the transactions pgbench
# counted (and, for soft, the journal entries). In simple mode every DELETE
# text is distinct (the id is a literal), so softdel analyses each one; in
# extended and prepared mode the text has $1 and is analysed once.
#
# PG* and SOFTDEL_* variables from the caller's environment are ignored.
# Everything (cluster, proxy, logs) lives in a temp dir that is removed on
# exit. Progress goes to stderr, the report to stdout. Runs as root (installs
# PostgreSQL 15 with apt-get if missing, runs it as `postgres`) or as an
# ordinary user when it is already installed.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
# Captured before argument parsing so the report shows exactly what was run.
COMMAND_LINE="$(printf '%q ' "$0" "$@")"
COMMAND_LINE="${COMMAND_LINE% }"
readonly SCRIPT_DIR REPO_ROOT COMMAND_LINE
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"

# The caller's libpq variables (PGHOST, PGOPTIONS, PGSSLMODE, ...) and softdel
# settings (SOFTDEL_RULES, ...) must not silently change what is measured.
for v in $(compgen -e | grep -E '^(PG|SOFTDEL_)' || true); do unset "$v"; done
unset v
export PGCONNECT_TIMEOUT=5

DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
ROWS="${ROWS:-}"   # default set in parse_args, from DURATION
MAX_THREADS="${MAX_THREADS:-2}"
DURABILITY="${DURABILITY:-off}"
POSTGRES_BINDIR="${POSTGRES_BINDIR:-/usr/lib/postgresql/15/bin}"
read -r -a MODES <<<"${MODES:-simple extended prepared}"
read -r -a CLIENTS <<<"${CLIENTS:-1 8}"
readonly TARGETS=(direct pass limit soft sql)
readonly DB=bench
readonly DB_USER=postgres

OUT_FILE=""
WORK=""           # temp dir holding everything below
PGDATA_DIR=""
DIRECT_PORT=""    # PostgreSQL itself
SOFTDEL_PORT=""
SOFTDEL_BIN=""
SOFTDEL_PID=""
PG_STARTED=0
INTERRUPTED=0
USED_PORTS=()
FAILURES=0
MISMATCHES=0
declare -A TPS=() LAT=() CHECK=()


usage() { sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; }

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
    ROWS="${ROWS:-$((60000 * DURATION))}"
    [[ "$DURABILITY" == on || "$DURABILITY" == off ]] || die "DURABILITY must be on or off (got '$DURABILITY')"
    [[ "$ROWS" =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive integer (got '$ROWS')"
    [[ "$MAX_THREADS" =~ ^[1-9][0-9]*$ ]] || die "MAX_THREADS must be a positive integer (got '$MAX_THREADS')"
    ((${#MODES[@]})) || die "MODES is empty"
    ((${#CLIENTS[@]})) || die "CLIENTS is empty"
    local m c
    for m in "${MODES[@]}"; do
        [[ "$m" =~ ^(simple|extended|prepared)$ ]] || die "MODES: unknown pgbench mode '$m'"
    done
    for c in "${CLIENTS[@]}"; do
        [[ "$c" =~ ^[1-9][0-9]*$ ]] || die "CLIENTS: not a positive integer: '$c'"
    done
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

# --- installation --------------------------------------------------------

ensure_packages() {
    have_postgres && return 0
    is_root || die "PostgreSQL 15 not found in $POSTGRES_BINDIR; run as root or: apt-get install postgresql-15"
    # On a systemd host the package also starts its default service on
    # 5432; ours uses another port.
    log "installing postgresql-15"
    apt-get update -q </dev/null >&2 || warn "apt-get update failed; trying to install anyway"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-15 </dev/null >&2 \
        || die "could not install postgresql-15"
    have_postgres || die "postgresql-15 installed but binaries not found in $POSTGRES_BINDIR"
}

# --- helpers -------------------------------------------------------------

# SQL straight to PostgreSQL (setup and checks never go through the proxy).
sql() { psql_at "$DIRECT_PORT" -d "$DB" -c "$1"; }

dump_logs() {
    local f
    for f in "$WORK"/postgres.log "$WORK"/softdel.log; do
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
    # Durability off by default (as in proxy_overhead.sh): the figures show
    # the statements' CPU cost rather than the disk's. DURABILITY=on keeps
    # PostgreSQL's defaults.
    cat >>"$PGDATA_DIR/postgresql.conf" <<EOF

# --- soft_delete.sh ---
listen_addresses = '127.0.0.1'
port = $DIRECT_PORT
unix_socket_directories = '$WORK'
max_connections = 100
EOF
    if [[ "$DURABILITY" == off ]]; then
        printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n' >>"$PGDATA_DIR/postgresql.conf"
    fi
    PG_STARTED=1
    as_pg "$POSTGRES_BINDIR/pg_ctl" start -D "$PGDATA_DIR" -l "$WORK/postgres.log" -w -t 60 >/dev/null \
        || die "PostgreSQL failed to start"
}

# The table of each target; all three have the same columns and index.
table_of() {
    case "$1" in
        direct|pass) echo items_plain ;;
        limit) echo items_limited ;;
        soft|sql) echo items ;;
    esac
}

create_schema() {
    log "creating database '$DB', the tables and the journal (softdel init)"
    psql_at "$DIRECT_PORT" -d postgres -c "create database $DB"
    sql "
        CREATE TABLE items (
            id bigint PRIMARY KEY,
            customer_id integer NOT NULL,
            total numeric(10, 2) NOT NULL,
            note text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            is_active boolean NOT NULL DEFAULT true
        );
        CREATE TABLE items_plain (LIKE items INCLUDING ALL);
        CREATE TABLE items_limited (LIKE items INCLUDING ALL);"
    "$SOFTDEL_BIN" init --database-url "postgres://$DB_USER@127.0.0.1:$DIRECT_PORT/$DB" \
        </dev/null >"$WORK/init.log" 2>&1 \
        || { cat "$WORK/init.log" >&2; die "softdel init failed"; }
}

write_rules() {
    cat >"$WORK/rules.yaml" <<'EOF'
defaults:
  max_rows: 1000
  on_delete: allow
tables:
  items:
    on_delete: soft
    flag: is_active
  items_plain:
    on_delete: allow
    max_rows: 0
EOF
    "$SOFTDEL_BIN" rules check "$WORK/rules.yaml" >"$WORK/rules-check.log" 2>&1 \
        || { cat "$WORK/rules-check.log" >&2; die "the benchmark's rules file is refused"; }
}

# soft_sql: the statement softdel sends for `DELETE FROM items WHERE id =
# $1`, as a pgbench command: its holes filled (connection id 0, client
# address 127.0.0.1), the parameter of the WHERE clause (the first $1) made
# :id, and the single colons in its literals (the refusal messages, which
# pgbench would take for variables) made dashes. Casts (::) and the $1 in
# the journaled text stay.
soft_sql() {
    local out
    # shellcheck disable=SC2016 # $1 is SQL, not a shell expansion
    out="$("$SOFTDEL_BIN" rewrite --rules "$WORK/rules.yaml" 'DELETE FROM items WHERE id = $1')" \
        || die "softdel rewrite failed"
    [[ "$(head -n 1 <<<"$out")" == "decision: soft delete on items"* ]] \
        || die "unexpected softdel rewrite output: $(head -n 1 <<<"$out")"
    # shellcheck disable=SC2016 # $1 is SQL, not a shell expansion
    tail -n +2 <<<"$out" | tr '\n' ' ' | sed -E \
        -e 's/:connection_id/0/g' \
        -e "s/:client_addr/'127.0.0.1'/g" \
        -e 's/([^:]):([^:])/\1-\2/g' \
        -e 's/([^:]):([^:])/\1-\2/g' \
        -e 's/\$1/:id/'
}

# pgbench scripts: client c (0-based) deletes ids c+1, c+1+C, c+1+2C, ...
# (n counts the client's transactions: pgbench variables live as long as
# the client; C and n start from -D).
write_scripts() {
    local t statement
    for t in "${TARGETS[@]}"; do
        if [[ "$t" == sql ]]; then
            statement="$(soft_sql)"
        else
            statement="DELETE FROM $(table_of "$t") WHERE id = :id"
        fi
        printf '\\set id 1 + :client_id + :nclients * :n\n\\set n :n + 1\n%s;\n' "$statement" \
            >"$WORK/delete_$t.sql"
    done
}

start_softdel() {
    pick_free_port SOFTDEL_PORT
    log "starting softdel on 127.0.0.1:$SOFTDEL_PORT -> 127.0.0.1:$DIRECT_PORT with $WORK/rules.yaml"
    "$SOFTDEL_BIN" proxy --listen "127.0.0.1:$SOFTDEL_PORT" --upstream "127.0.0.1:$DIRECT_PORT" \
        --rules "$WORK/rules.yaml" </dev/null >"$WORK/softdel.log" 2>&1 &
    SOFTDEL_PID=$!
    wait_for_sql softdel "$SOFTDEL_PORT" "$SOFTDEL_PID"
}

# Proves the proxy applies the rules before anything is measured: a DELETE
# on the soft table must leave the row in place, marked and journaled.
check_rules_applied() {
    refill soft
    psql_at "$SOFTDEL_PORT" -d "$DB" -c "DELETE FROM items WHERE id = 1" >/dev/null
    local state
    state="$(sql "SELECT (SELECT count(*) FROM items WHERE id = 1 AND NOT is_active)
                      || ',' || (SELECT count(*) FROM softdel.rows)")"
    [[ "$state" == "1,1" ]] \
        || die "softdel did not soft-delete through the proxy (row marked, journal rows: $state); does this build apply rules?"
}

# refill TARGET: the target's table holds rows 1..ROWS, all live, freshly
# vacuumed; the journal is empty.
refill() {
    local table
    table="$(table_of "$1")"
    sql "TRUNCATE $table, softdel.rows, softdel.operations;
         INSERT INTO $table (id, customer_id, total, note)
             SELECT g, g % 1000, (g % 100000) / 100.0, md5(g::text)
             FROM generate_series(1, $ROWS) g;" >/dev/null
    sql "VACUUM ANALYZE $table" >/dev/null
    sql "CHECKPOINT" >/dev/null
}

# --- measuring -----------------------------------------------------------

target_port() {
    case "$1" in
        direct|sql) echo "$DIRECT_PORT" ;;
        *) echo "$SOFTDEL_PORT" ;;
    esac
}

# run_pgbench TARGET MODE CLIENTS SECONDS: prints pgbench's output; fails like pgbench.
run_pgbench() {
    local target="$1" mode="$2" clients="$3" secs="$4"
    local threads=$((clients < MAX_THREADS ? clients : MAX_THREADS))
    "$POSTGRES_BINDIR/pgbench" -n -M "$mode" -c "$clients" -j "$threads" -T "$secs" \
        -D n=0 -D nclients="$clients" -f "$WORK/delete_$target.sql" \
        -h 127.0.0.1 -p "$(target_port "$target")" -U "$DB_USER" "$DB" 2>&1
}

# Warm caches (and prove each target works) before the first measured point,
# so the first column measured is not penalised.
warm_up() {
    ((WARMUP > 0)) || return 0
    local t
    for t in "${TARGETS[@]}"; do
        log "warm-up: $t (${WARMUP}s)"
        refill "$t"
        run_pgbench "$t" simple 2 "$WARMUP" >"$WORK/warmup.log" \
            || { warn "warm-up through $t failed:"; tail -n 20 "$WORK/warmup.log" >&2; }
    done
}

# verify TARGET KEY PROCESSED: did every transaction remove a row of its own
# (and, for soft, journal it)? Sets CHECK[KEY] to ok or what differs.
verify() {
    local target="$1" key="$2" processed="$3" table live removed ops images
    table="$(table_of "$target")"
    if [[ "$target" == soft || "$target" == sql ]]; then
        live="$(sql "SELECT count(*) FROM $table WHERE is_active")"
        ops="$(sql "SELECT count(*) FROM softdel.operations")"
        images="$(sql "SELECT count(*) FROM softdel.rows")"
    else
        live="$(sql "SELECT count(*) FROM $table")"
        ops="$processed" images="$processed"
    fi
    removed=$((ROWS - live))
    if ((removed == processed && ops == processed && images == processed)); then
        CHECK[$key]=ok
    else
        CHECK[$key]="removed $removed, journaled $ops/$images, of $processed"
        MISMATCHES=$((MISMATCHES + 1))
        warn "$target ($key): ${CHECK[$key]}"
        ((removed < processed)) && warn "some transactions found no row: raise ROWS (now $ROWS)"
    fi
}

# measure TARGET MODE CLIENTS: fill TPS/LAT for that point ("fail" on error).
measure() {
    local target="$1" mode="$2" clients="$3" key="$2,$3,$1" out processed
    refill "$target"
    log "pgbench -M $mode -c $clients -> $target (${DURATION}s)"
    if out="$(run_pgbench "$target" "$mode" "$clients" "$DURATION")"; then
        TPS[$key]="$(awk '/^tps = .*without initial connection time/ { print $3 }' <<<"$out")"
        LAT[$key]="$(awk '/^latency average = / { print $4 }' <<<"$out")"
        processed="$(awk -F': ' '/^number of transactions actually processed/ { split($2, a, "/"); print a[1] }' <<<"$out")"
    fi
    if [[ -z "${TPS[$key]:-}" || -z "${LAT[$key]:-}" || -z "${processed:-}" ]]; then
        warn "pgbench through $target failed (mode=$mode clients=$clients):"
        tail -n 20 <<<"$out" >&2
        if [[ "$target" != direct && "$target" != sql ]] && ! kill -0 "$SOFTDEL_PID" 2>/dev/null; then
            warn "the softdel process has exited; see softdel.log at the end"
        fi
        TPS[$key]=fail LAT[$key]=fail CHECK[$key]=fail
        FAILURES=$((FAILURES + 1))
        return 0
    fi
    verify "$target" "$key" "$processed"
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

# ratio A B: A/B with 2 decimals, "-" if either is not a number.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else printf "-" }'; }

machine_info() {
    local pg_version softdel_rev cpu
    pg_version="$(psql_at "$DIRECT_PORT" -d postgres -c 'show server_version')"
    softdel_rev="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
    echo "## softdel soft DELETE cost (pgbench, one single-row DELETE per transaction)"
    echo
    echo "- machine: nproc=$(nproc), ${cpu:-unknown CPU}, $(uname -sr)"
    if [[ "$DURABILITY" == off ]]; then
        echo "- PostgreSQL: $pg_version (fsync=off, synchronous_commit=off, full_page_writes=off)"
    else
        echo "- PostgreSQL: $pg_version (durability defaults: fsync=on, synchronous_commit=on)"
    fi
    echo "- softdel: $softdel_rev (release build)"
    echo "- command: DURATION=$DURATION DURABILITY=$DURABILITY WARMUP=$WARMUP ROWS=$ROWS MODES=\"${MODES[*]}\" CLIENTS=\"${CLIENTS[*]}\" MAX_THREADS=$MAX_THREADS $COMMAND_LINE"
    echo "- pgbench: pgbench -n -M <mode> -c <clients> -j min(<clients>,$MAX_THREADS) -T $DURATION -D n=0 -D nclients=<clients> -f <script>"
    echo "- script: \\set id 1 + :client_id + :nclients * :n; \\set n :n + 1; DELETE FROM <table> WHERE id = :id;"
    echo "- direct: items_plain straight to PostgreSQL (hard); pass: items_plain through softdel (allow, max_rows 0: sent unchanged);"
    echo "  limit: items_limited through softdel (unlisted: row-limit rewrite); soft: items through softdel (soft, flag is_active, journaled);"
    echo "  sql: the statement softdel sends for the soft DELETE, run straight against PostgreSQL"
    echo "- latency: pgbench's latency average per transaction, ms; check: rows removed (and journaled) = transactions"
    echo "- note: pgbench, softdel and PostgreSQL share the same $(nproc) CPUs"
    echo
}

# One markdown table row, padded so the raw text lines up too.
row() {
    printf '| %-8s | %7s | %9s | %7s | %8s | %7s | %6s | %10s | %8s | %11s | %11s | %11s | %10s | %20s | %5s |\n' "$@"
}

table() {
    # printf pads by bytes, so the header cell with the 2-byte "µ" gets an extra space.
    row mode clients "direct ms" "pass ms" "limit ms" "soft ms" "sql ms" "direct TPS" "soft TPS" \
        "soft/direct" "pass/direct" "limit/direct" "sql/direct" " soft-sql (proxy) µs" check
    row -------- ------: --------: ------: -------: ------: -----: ---------: -------: \
        ----------: ----------: -----------: ---------: -------------------: -----
    local mode clients k check t
    for mode in "${MODES[@]}"; do
        for clients in "${CLIENTS[@]}"; do
            k="$mode,$clients"
            check=ok
            for t in "${TARGETS[@]}"; do
                [[ "${CHECK[$k,$t]:-}" == ok ]] || check="see below"
            done
            row "$mode" "$clients" \
                "$(fmt_num "${LAT[$k,direct]:-}" %.3f)" "$(fmt_num "${LAT[$k,pass]:-}" %.3f)" \
                "$(fmt_num "${LAT[$k,limit]:-}" %.3f)" "$(fmt_num "${LAT[$k,soft]:-}" %.3f)" \
                "$(fmt_num "${LAT[$k,sql]:-}" %.3f)" \
                "$(fmt_num "${TPS[$k,direct]:-}" %.0f)" "$(fmt_num "${TPS[$k,soft]:-}" %.0f)" \
                "$(ratio "${LAT[$k,soft]:-}" "${LAT[$k,direct]:-}")" \
                "$(ratio "${LAT[$k,pass]:-}" "${LAT[$k,direct]:-}")" \
                "$(ratio "${LAT[$k,limit]:-}" "${LAT[$k,direct]:-}")" \
                "$(ratio "${LAT[$k,sql]:-}" "${LAT[$k,direct]:-}")" \
                "$(added_us "${LAT[$k,soft]:-}" "${LAT[$k,sql]:-}")" \
                "$check"
        done
    done
    local key
    for key in "${!CHECK[@]}"; do
        [[ "${CHECK[$key]}" == ok ]] || printf '\n- check %s: %s' "$key" "${CHECK[$key]}"
    done
    echo
}

report() {
    local text
    text="$(machine_info; table)"
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
    write_scripts
    start_softdel
    check_rules_applied
    warm_up
    run_matrix
    report
    ((FAILURES == 0)) || die "$FAILURES pgbench run(s) failed (marked 'fail' in the table)"
    ((MISMATCHES == 0)) || die "$MISMATCHES run(s) did not remove one row per transaction (see the checks)"
}

main "$@"
