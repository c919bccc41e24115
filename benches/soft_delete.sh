#!/usr/bin/env bash
# What a protected DELETE costs, side by side with what a user would build
# instead. softdel's journal and guard are installed in the database
# (`softdel init --rules`: statement-level AFTER triggers that journal every
# deleted or soft-deleted row), then, in one run:
#
# 1. Single-row DELETEs with pgbench, one per transaction, per pgbench mode
#    and client count, the targets interleaved:
#
#   direct  hard DELETE on items_plain, straight to PostgreSQL
#   audit   what a user would build instead: hard DELETE on items_audited,
#           straight to PostgreSQL, whose row-level AFTER DELETE trigger
#           writes to_jsonb(OLD) into a table `audit`
#   pass    the same DELETE on items_plain through softdel, whose rule
#           (allow, max_rows 0) sends it unchanged: the proxy's own cost
#   limit   through softdel on items_limited, a table the rules do not list:
#           rewritten only to enforce the default row limit (1000)
#   soft    through softdel on items, a soft table (flag is_active): the
#           DELETE becomes an UPDATE of the flag, which the guard's UPDATE
#           trigger journals (one operation, one row image)
#   sql     the statement softdel sends for that DELETE (from `softdel
#           rewrite`), run straight against PostgreSQL: what the soft delete
#           costs the server, without the proxy
#
# 2. One bulk DELETE of BULK_ROWS rows (`DELETE FROM <t> WHERE id <= N`,
#    pgbench -t 1, the table refilled before every repetition, untimed),
#    BULK_REPS times per target, interleaved; the median is reported:
#
#   bare            hard DELETE on items_plain, straight to PostgreSQL
#   journal         DELETE on items_journal (on_delete: journal, no row limit)
#                   through softdel: the guard journals every row image
#   journal-direct  the same DELETE straight to PostgreSQL (the guard
#                   journals it too): the proxy's share of the bulk cost
#   audit           hard DELETE on items_audited (the row-level audit
#                   trigger), straight to PostgreSQL
#   keep-copy       the floor of keeping what a DELETE removes: the same
#                   DELETE on items_plain in a CTE whose RETURNING * rows are
#                   inserted as they are into a table without an index
#   keep-jsonb      the same, each row kept as to_jsonb(row) (what a journal
#                   of row images, any journal, writes at the least)
#
# Usage: benches/soft_delete.sh [--out FILE]
#
#   --out FILE   also write the report (machine info + tables) to FILE
#
# Environment:
#   DURATION         seconds per pgbench run (default 10)
#   WARMUP           seconds of warm-up per target before measuring (default 3,
#                    0 = none; with 0 there is no unmeasured bulk run either)
#   ROWS             rows in each single-row table before every run (default 120000 * DURATION)
#   MODES            pgbench -M modes (default "simple extended prepared")
#   CLIENTS          client counts (default "1 8")
#   TARGETS          single-row targets, a subset of the default
#                    "direct audit pass limit soft sql"
#   MAX_THREADS      pgbench -j is min(clients, MAX_THREADS) (default 2)
#   BULK_ROWS        rows of the bulk DELETE (default 10000)
#   BULK_REPS        repetitions of the bulk DELETE per target (default 5, 0 = no bulk section)
#   JOURNAL_SEED     operations (one row image each) the journal holds before
#                    every run, vacuumed and analyzed (default 100000): a
#                    journal in use, as in production, whose indexes are not
#                    empty. 0 = an empty journal before every run
#   DURABILITY       off (default): fsync, synchronous_commit and
#                    full_page_writes off, so the figures show the statements'
#                    CPU cost, the worst case for the ratios; on: PostgreSQL's
#                    defaults, where every commit waits for its WAL flush, as
#                    on a production server
#   POSTGRES_BINDIR  PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
#
# Every single-row transaction deletes a row of its own (client c deletes
# ids c+1, c+1+C, c+1+2C, ... for C clients). Before every run the
# target's table is brought back to the same state (refilled; the soft
# table, whose rows stay, has its flags reset and is re-clustered, since the
# guard refuses TRUNCATE of a protected table), the journal back to its
# JOURNAL_SEED operations, and the audit table emptied. Afterwards the rows
# removed or marked are checked against the transactions pgbench counted,
# and so are the new journal operations and row images (soft, sql) and the
# audit rows (audit). After every bulk DELETE: the table is empty, and a
# journaled one left exactly one new operation with BULK_ROWS row images
# (the audit trigger BULK_ROWS audit rows). In simple mode every DELETE text
# is distinct (the id is a literal), so softdel analyses each one; in
# extended and prepared mode the text has $1 and is analysed once.
#
# The targets of the design: a soft delete through softdel within 1.25x of
# the audit trigger (every mode, 1 and 8 clients) and within 2x of a bare
# hard DELETE at DURABILITY=on; the bulk journaled DELETE within 3x of the
# bare one. The report says which are met.
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

clear_caller_env
export PGCONNECT_TIMEOUT=5

DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-3}"
ROWS="${ROWS:-}"   # default set in parse_args, from DURATION
MAX_THREADS="${MAX_THREADS:-2}"
DURABILITY="${DURABILITY:-off}"
BULK_ROWS="${BULK_ROWS:-10000}"
BULK_REPS="${BULK_REPS:-5}"
JOURNAL_SEED="${JOURNAL_SEED:-100000}"
POSTGRES_BINDIR="${POSTGRES_BINDIR:-/usr/lib/postgresql/15/bin}"
read -r -a MODES <<<"${MODES:-simple extended prepared}"
read -r -a CLIENTS <<<"${CLIENTS:-1 8}"
readonly ALL_TARGETS=(direct audit pass limit soft sql)
read -r -a TARGETS <<<"${TARGETS:-${ALL_TARGETS[*]}}"
readonly BULK_TARGETS=(bare journal journal-direct audit keep-copy keep-jsonb)
readonly DB=bench
readonly DB_USER=postgres
# The design's targets (see the usage text).
readonly MAX_SOFT_AUDIT=1.25 MAX_SOFT_DIRECT=2 MAX_BULK_JOURNAL_BARE=3

OUT_FILE=""
WORK=""           # temp dir holding everything below
PGDATA_DIR=""
DIRECT_PORT=""    # PostgreSQL itself
SOFTDEL_PORT=""
SOFTDEL_BIN=""
SOFTDEL_PID=""
JOURNAL_BASE=0    # the journal's last operation id before every run (see reset_journal)
PG_STARTED=0
INTERRUPTED=0
USED_PORTS=()
FAILURES=0
MISMATCHES=0
declare -A TPS=() LAT=() CHECK=() BULK_MS=() BULK_CHECK=()


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
    ROWS="${ROWS:-$((120000 * DURATION))}"
    [[ "$DURABILITY" == on || "$DURABILITY" == off ]] || die "DURABILITY must be on or off (got '$DURABILITY')"
    [[ "$ROWS" =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive integer (got '$ROWS')"
    [[ "$MAX_THREADS" =~ ^[1-9][0-9]*$ ]] || die "MAX_THREADS must be a positive integer (got '$MAX_THREADS')"
    [[ "$BULK_ROWS" =~ ^[1-9][0-9]*$ ]] || die "BULK_ROWS must be a positive integer (got '$BULK_ROWS')"
    [[ "$BULK_REPS" =~ ^[0-9]+$ ]] || die "BULK_REPS must be a non-negative integer (got '$BULK_REPS')"
    [[ "$JOURNAL_SEED" =~ ^[0-9]+$ ]] || die "JOURNAL_SEED must be a non-negative integer (got '$JOURNAL_SEED')"
    ((${#MODES[@]})) || die "MODES is empty"
    ((${#CLIENTS[@]})) || die "CLIENTS is empty"
    ((${#TARGETS[@]} || BULK_REPS)) || die "TARGETS is empty and BULK_REPS is 0: nothing to measure"
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

database_url() { echo "postgres://$DB_USER@127.0.0.1:$DIRECT_PORT/$DB"; }

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

# The table of each single-row target; all have the same columns and index.
table_of() {
    case "$1" in
        direct|pass) echo items_plain ;;
        audit) echo items_audited ;;
        limit) echo items_limited ;;
        soft|sql) echo items ;;
    esac
}

# The table of each bulk target.
bulk_table_of() {
    case "$1" in
        bare|keep-copy|keep-jsonb) echo items_plain ;;
        journal|journal-direct) echo items_journal ;;
        audit) echo items_audited ;;
    esac
}

create_schema() {
    log "creating database '$DB', the tables and the audit trigger"
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
        CREATE TABLE items_limited (LIKE items INCLUDING ALL);
        CREATE TABLE items_journal (LIKE items INCLUDING ALL);
        CREATE TABLE items_audited (LIKE items INCLUDING ALL);
        -- What a user would build instead of softdel: a row-level audit trigger.
        CREATE TABLE audit (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            table_name text NOT NULL,
            image jsonb NOT NULL
        );
        CREATE FUNCTION audit_row() RETURNS trigger LANGUAGE plpgsql AS \$\$
        BEGIN
            INSERT INTO audit (table_name, image) VALUES (TG_TABLE_NAME, to_jsonb(OLD));
            RETURN OLD;
        END
        \$\$;
        CREATE TRIGGER audit AFTER DELETE ON items_audited
            FOR EACH ROW EXECUTE FUNCTION audit_row();
        -- Where the bulk floors keep the deleted rows: no index, no trigger.
        CREATE TABLE kept_rows (LIKE items);
        CREATE TABLE kept_images (image jsonb NOT NULL);" >/dev/null
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
  items_journal:
    on_delete: journal
    max_rows: 0
EOF
    "$SOFTDEL_BIN" rules check "$WORK/rules.yaml" >"$WORK/rules-check.log" 2>&1 \
        || { cat "$WORK/rules-check.log" >&2; die "the benchmark's rules file is refused"; }
}

# The journal and the guard of the tables the rules protect (items: soft,
# items_journal: journal); both must be reported as added.
install_guard() {
    log "installing the journal and the guard (softdel init --rules)"
    "$SOFTDEL_BIN" init --database-url "$(database_url)" --rules "$WORK/rules.yaml" \
        </dev/null >"$WORK/init.log" 2>&1 \
        || { cat "$WORK/init.log" >&2; die "softdel init --rules failed"; }
    local t
    for t in items items_journal; do
        grep -Eq "^(public\.)?$t[[:space:]].*[[:space:]]added[[:space:]]*\$" "$WORK/init.log" \
            || { cat "$WORK/init.log" >&2; die "softdel init --rules did not report the guard of $t as added (output above)"; }
    done
    # The triggers themselves, not only what init says.
    local triggers
    triggers="$(sql "SELECT string_agg(tgrelid::regclass || '.' || tgname, ' ' ORDER BY 1)
                     FROM pg_trigger WHERE tgname LIKE 'softdel\_guard\_%' AND tgenabled = 'A'")"
    for t in items.softdel_guard_update items.softdel_guard_delete items_journal.softdel_guard_delete; do
        [[ " $triggers " == *" $t "* ]] || die "guard trigger $t missing after softdel init (installed: ${triggers:-none})"
    done
    log "guard installed: $triggers"
}

# soft_sql: the statement softdel sends for `DELETE FROM items WHERE id =
# $1`, as a pgbench command: its holes filled (connection id 0, client
# address 127.0.0.1), the parameter of the WHERE clause (`(id = $1)`) made
# :id, and single colons elsewhere (pgbench would take `:word` for a
# variable; the statement has none today) made dashes. Casts (::) and the
# $1 in the journaled text (inside the $softdel$ dollar quote) stay. Fails
# unless exactly one pgbench variable, :id, is left.
soft_sql() {
    local out statement
    # shellcheck disable=SC2016 # $1 is SQL, not a shell expansion
    out="$("$SOFTDEL_BIN" rewrite --rules "$WORK/rules.yaml" 'DELETE FROM items WHERE id = $1')" \
        || die "softdel rewrite failed"
    [[ "$(head -n 1 <<<"$out")" == "decision: soft delete on items"* ]] \
        || die "unexpected softdel rewrite output: $(head -n 1 <<<"$out")"
    # shellcheck disable=SC2016 # $1 is SQL, not a shell expansion
    statement="$(tail -n +2 <<<"$out" | tr '\n' ' ' | sed -E \
        -e 's/:connection_id/0/g' \
        -e "s/:client_addr/'127.0.0.1'/g" \
        -e 's/([^:]):([^:])/\1-\2/g' \
        -e 's/([^:]):([^:])/\1-\2/g' \
        -e 's/WHERE \(id = \$1\)/WHERE (id = :id)/' \
        -e 's/[[:space:]]+$//')"
    local vars
    vars="$({ grep -oE '(^|[^:]):[A-Za-z_][A-Za-z0-9_]*' <<<"$statement" || true; } | sed -E 's/^[^:]//' | tr '\n' ' ')"
    [[ "$vars" == ":id " ]] \
        || die "cannot turn softdel's rewrite into a pgbench command (pgbench variables left: '${vars% }'): $statement"
    printf '%s' "$statement"
}

# pgbench scripts: client c (0-based) deletes ids c+1, c+1+C, c+1+2C, ...
# (n counts the client's transactions: pgbench variables live as long as
# the client; C and n start from -D). Bulk: one DELETE of BULK_ROWS rows.
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
    for t in "${BULK_TARGETS[@]}"; do
        statement="DELETE FROM $(bulk_table_of "$t") WHERE id <= $BULK_ROWS"
        case "$t" in
            keep-copy) statement="WITH d AS ($statement RETURNING *) INSERT INTO kept_rows SELECT * FROM d" ;;
            keep-jsonb) statement="WITH d AS ($statement RETURNING *) INSERT INTO kept_images SELECT to_jsonb(d) FROM d" ;;
        esac
        printf '%s;\n' "$statement" >"$WORK/bulk_$t.sql"
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

# Proves the proxy and the guard apply the rules before anything is
# measured: a DELETE on the soft table through the proxy must leave the row
# in place, marked, and journaled as one soft_delete with one image.
check_rules_applied() {
    refill soft
    psql_at "$SOFTDEL_PORT" -d "$DB" -c "DELETE FROM items WHERE id = 1" >/dev/null
    local state
    state="$(sql "SELECT (SELECT count(*) FROM items WHERE id = 1 AND NOT is_active)
                      || ',' || (SELECT count(*) FROM softdel.operations
                                 WHERE id > $JOURNAL_BASE AND action = 'soft_delete')
                      || ',' || (SELECT count(*) FROM softdel.rows WHERE op_id > $JOURNAL_BASE)")"
    [[ "$state" == "1,1,1" ]] \
        || die "softdel did not soft-delete through the proxy (row marked, soft_delete operations, journal rows: $state); does this build apply rules and is the guard installed?"
}

# The journal of a database where softdel is in use: JOURNAL_SEED soft
# deletes of another table, one row image each (written straight to the
# journal's tables, as its owner).
seed_journal() {
    ((JOURNAL_SEED > 0)) || return 0
    log "seeding the journal with $JOURNAL_SEED operations and row images"
    # shellcheck disable=SC2016 # $1 is SQL, not a shell expansion
    sql "INSERT INTO softdel.operations (path, table_schema, table_name, action, row_count, sql,
                                         marker_kind, marker_column)
             SELECT 'direct', 'public', 'items_seed', 'soft_delete', 1,
                    'DELETE FROM items_seed WHERE id = \$1', 'flag', 'is_active'
             FROM generate_series(1, $JOURNAL_SEED);
         INSERT INTO softdel.rows (op_id, image)
             SELECT id, jsonb_build_object('id', id, 'customer_id', id % 1000,
                                           'total', (id % 100000) / 100.0, 'note', md5(id::text),
                                           'created_at', now(), 'is_active', false)
             FROM softdel.operations;" >/dev/null
    JOURNAL_BASE="$(sql "SELECT coalesce(max(id), 0) FROM softdel.operations")"
}

# reset_journal: the journal back to its seed (JOURNAL_SEED > 0) or empty,
# vacuumed and analyzed, so every run meets the same journal, and its
# statistics say how big it is; JOURNAL_BASE is its last operation id.
reset_journal() {
    if ((JOURNAL_SEED > 0)); then
        sql "DELETE FROM softdel.rows WHERE op_id > $JOURNAL_BASE;
             DELETE FROM softdel.operations WHERE id > $JOURNAL_BASE;" >/dev/null
    else
        sql "TRUNCATE softdel.rows, softdel.operations" >/dev/null
        JOURNAL_BASE="$(sql "SELECT coalesce(max(id), 0) FROM softdel.operations")"
    fi
    sql "VACUUM ANALYZE softdel.operations, softdel.rows" >/dev/null
}

# The soft table keeps its rows, so it is filled once; refill resets it.
fill_soft_table() {
    log "filling items ($ROWS rows)"
    sql "INSERT INTO items (id, customer_id, total, note)
             SELECT g, g % 1000, (g % 100000) / 100.0, md5(g::text)
             FROM generate_series(1, $ROWS) g" >/dev/null
}

# refill TARGET: the target's table holds rows 1..ROWS, all live, in id
# order, freshly vacuumed; the journal holds its seed, the audit table is
# empty. The guard refuses TRUNCATE of items, so its rows are made live
# again (an UPDATE the guard does not journal: it marks nothing deleted) and
# CLUSTER rewrites it as a fresh fill would have laid it out.
refill() {
    local table
    table="$(table_of "$1")"
    if [[ "$table" == items ]]; then
        sql "UPDATE items SET is_active = true WHERE NOT is_active" >/dev/null
        sql "CLUSTER items USING items_pkey" >/dev/null
    else
        sql "TRUNCATE $table, audit;
             INSERT INTO $table (id, customer_id, total, note)
                 SELECT g, g % 1000, (g % 100000) / 100.0, md5(g::text)
                 FROM generate_series(1, $ROWS) g;" >/dev/null
    fi
    reset_journal
    sql "VACUUM ANALYZE $table" >/dev/null
    sql "CHECKPOINT" >/dev/null
}

# bulk_refill TARGET: the target's table holds rows 1..BULK_ROWS, all live,
# freshly vacuumed; the journal holds its seed, the audit table is empty.
# items_journal cannot be truncated (the guard refuses): after a run all its
# rows are dead, and VACUUM FULL leaves it as empty as TRUNCATE would.
bulk_refill() {
    local table
    table="$(bulk_table_of "$1")"
    if [[ "$table" == items_journal ]]; then
        sql "VACUUM FULL items_journal" >/dev/null
        sql "TRUNCATE audit, kept_rows, kept_images" >/dev/null
    else
        sql "TRUNCATE $table, audit, kept_rows, kept_images" >/dev/null
    fi
    reset_journal
    sql "INSERT INTO $table (id, customer_id, total, note)
             SELECT g, g % 1000, (g % 100000) / 100.0, md5(g::text)
             FROM generate_series(1, $BULK_ROWS) g
         ON CONFLICT (id) DO NOTHING" >/dev/null
    sql "VACUUM ANALYZE $table" >/dev/null
    sql "CHECKPOINT" >/dev/null
}

# --- measuring -----------------------------------------------------------

target_port() {
    case "$1" in
        direct|audit|sql|bare|journal-direct|keep-copy|keep-jsonb) echo "$DIRECT_PORT" ;;
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

# run_bulk TARGET: one transaction of the bulk script; prints pgbench's output.
run_bulk() {
    "$POSTGRES_BINDIR/pgbench" -n -M simple -c 1 -j 1 -t 1 -f "$WORK/bulk_$1.sql" \
        -h 127.0.0.1 -p "$(target_port "$1")" -U "$DB_USER" "$DB" 2>&1
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

# verify TARGET KEY PROCESSED: did every transaction remove (or mark) a row
# of its own, and journal (or audit) it? Sets CHECK[KEY] to ok or what differs.
verify() {
    local target="$1" key="$2" processed="$3" table live removed ops images audited
    table="$(table_of "$target")"
    ops=0 images=0 audited=0
    if [[ "$target" == soft || "$target" == sql ]]; then
        live="$(sql "SELECT count(*) FROM $table WHERE is_active")"
        ops="$(sql "SELECT count(*) FROM softdel.operations
                    WHERE id > $JOURNAL_BASE AND action = 'soft_delete' AND row_count = 1")"
        images="$(sql "SELECT count(*) FROM softdel.rows WHERE op_id > $JOURNAL_BASE")"
    else
        live="$(sql "SELECT count(*) FROM $table")"
        [[ "$target" == audit ]] && audited="$(sql "SELECT count(*) FROM audit")"
    fi
    removed=$((ROWS - live))
    local ok=1
    ((removed == processed)) || ok=0
    case "$target" in
        soft|sql) ((ops == processed && images == processed)) || ok=0 ;;
        audit) ((audited == processed)) || ok=0 ;;
    esac
    if ((ok)); then
        CHECK[$key]=ok
    else
        case "$target" in
            soft|sql) CHECK[$key]="marked $removed, journaled $ops operations/$images images, of $processed" ;;
            audit) CHECK[$key]="removed $removed, audited $audited, of $processed" ;;
            *) CHECK[$key]="removed $removed of $processed" ;;
        esac
        MISMATCHES=$((MISMATCHES + 1))
        warn "$target ($key): ${CHECK[$key]}"
        ((removed < processed)) && warn "some transactions found no row: raise ROWS (now $ROWS)"
    fi
}

# measure TARGET MODE CLIENTS: fill TPS/LAT for that point ("fail" on error).
measure() {
    local target="$1" mode="$2" clients="$3" key="$2,$3,$1" out="" processed=""
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
        if [[ "$(target_port "$target")" == "$SOFTDEL_PORT" ]] && ! kill -0 "$SOFTDEL_PID" 2>/dev/null; then
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

# bulk_verify TARGET: prints "ok" or what differs. The table must be empty;
# a journaled DELETE must have left one journal_delete operation of
# BULK_ROWS rows with BULK_ROWS images; the audit trigger BULK_ROWS rows;
# the floors BULK_ROWS kept rows; the others nothing in the journal.
bulk_verify() {
    local target="$1" table left ops all_ops images audited kept want_ops want_images want_audit want_kept=0
    table="$(bulk_table_of "$target")"
    IFS=, read -r left ops all_ops images audited kept <<<"$(sql "SELECT (SELECT count(*) FROM $table)
        || ',' || (SELECT count(*) FROM softdel.operations
                   WHERE id > $JOURNAL_BASE AND action = 'journal_delete' AND row_count = $BULK_ROWS)
        || ',' || (SELECT count(*) FROM softdel.operations WHERE id > $JOURNAL_BASE)
        || ',' || (SELECT count(*) FROM softdel.rows WHERE op_id > $JOURNAL_BASE)
        || ',' || (SELECT count(*) FROM audit)
        || ',' || (SELECT (SELECT count(*) FROM kept_rows) + (SELECT count(*) FROM kept_images))")"
    case "$target" in
        journal|journal-direct) want_ops=1 want_images=$BULK_ROWS want_audit=0 ;;
        audit) want_ops=0 want_images=0 want_audit=$BULK_ROWS ;;
        keep-copy|keep-jsonb) want_ops=0 want_images=0 want_audit=0 want_kept=$BULK_ROWS ;;
        *) want_ops=0 want_images=0 want_audit=0 ;;
    esac
    if ((left == 0 && ops == want_ops && all_ops == want_ops && images == want_images && audited == want_audit && kept == want_kept)); then
        echo ok
    else
        echo "left $left of $BULK_ROWS, journaled $ops of $all_ops operations as expected, $images images, audited $audited, kept $kept"
    fi
}

# bulk_measure TARGET: one refill (untimed) and one timed DELETE; appends the
# latency to BULK_MS[TARGET]; $1 = warm-up: run and check, record nothing.
bulk_measure() {
    local target="$1" warm="${2:-}" out="" ms="" check
    bulk_refill "$target"
    if out="$(run_bulk "$target")"; then
        ms="$(awk '/^latency average = / { print $4 }' <<<"$out")"
    fi
    if [[ -z "$ms" ]]; then
        warn "bulk DELETE through $target failed:"
        tail -n 20 <<<"$out" >&2
        BULK_CHECK[$target]=fail
        FAILURES=$((FAILURES + 1))
        return 0
    fi
    check="$(bulk_verify "$target")"
    if [[ "$check" != ok ]]; then
        warn "bulk $target: $check"
        BULK_CHECK[$target]="$check"
        MISMATCHES=$((MISMATCHES + 1))
    fi
    [[ -n "$warm" ]] && return 0
    log "bulk $target: $ms ms"
    BULK_MS[$target]="${BULK_MS[$target]:-} $ms"
}

run_bulk_section() {
    ((BULK_REPS > 0)) || return 0
    local rep t
    for t in "${BULK_TARGETS[@]}"; do
        BULK_CHECK[$t]=ok
        if ((WARMUP > 0)); then
            log "bulk warm-up: $t"
            bulk_measure "$t" warm
        fi
    done
    for ((rep = 1; rep <= BULK_REPS; rep++)); do
        for t in "${BULK_TARGETS[@]}"; do
            log "bulk DELETE of $BULK_ROWS rows -> $t (repetition $rep/$BULK_REPS)"
            bulk_measure "$t"
        done
    done
}

# --- report --------------------------------------------------------------

# ratio A B: A/B with 2 decimals, "-" if either is not a number.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else printf "-" }'; }

# at_most VALUE LIMIT: exit status 0 when VALUE is a number <= LIMIT.
at_most() { awk -v v="$1" -v l="$2" 'BEGIN { exit !(v ~ /^[0-9.]+$/ && v + 0 <= l + 0) }'; }

# stat_of median|min|max VALUES: of the whitespace-separated numbers in
# VALUES, 3 decimals ("-" for none).
stat_of() {
    local what="$1"; shift
    # shellcheck disable=SC2048,SC2086 # split VALUES into numbers
    printf '%s\n' $* | awk -v what="$what" 'NF { v[n++] = $1 } END {
        if (!n) { printf "-"; exit }
        # insertion sort: a handful of values
        for (i = 1; i < n; i++) { x = v[i]; for (j = i - 1; j >= 0 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
        if (what == "min") r = v[0]; else if (what == "max") r = v[n - 1];
        else r = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
        printf "%.3f", r }'
}

machine_info() {
    local pg_version softdel_rev cpu
    pg_version="$(psql_at "$DIRECT_PORT" -d postgres -c 'show server_version')"
    softdel_rev="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
    echo "## softdel soft DELETE cost (guard installed), against a hard DELETE and an audit trigger"
    echo
    echo "- machine: nproc=$(nproc), ${cpu:-unknown CPU}, $(uname -sr)"
    if [[ "$DURABILITY" == off ]]; then
        echo "- PostgreSQL: $pg_version (fsync=off, synchronous_commit=off, full_page_writes=off)"
    else
        echo "- PostgreSQL: $pg_version (durability defaults: fsync=on, synchronous_commit=on)"
    fi
    echo "- softdel: $softdel_rev (release build); journal and guard installed with softdel init --rules"
    echo "- command: DURATION=$DURATION DURABILITY=$DURABILITY WARMUP=$WARMUP ROWS=$ROWS MODES=\"${MODES[*]}\" CLIENTS=\"${CLIENTS[*]}\" TARGETS=\"${TARGETS[*]}\" MAX_THREADS=$MAX_THREADS BULK_ROWS=$BULK_ROWS BULK_REPS=$BULK_REPS JOURNAL_SEED=$JOURNAL_SEED $COMMAND_LINE"
    if ((JOURNAL_SEED > 0)); then
        echo "- journal: $JOURNAL_SEED operations with a row image each before every run (vacuumed, analyzed), as in a database where softdel is in use"
    else
        echo "- journal: empty before every run (vacuumed, analyzed)"
    fi
    echo "- note: pgbench, softdel and PostgreSQL share the same $(nproc) CPUs"
    echo
}

# One markdown table row, padded so the raw text lines up too.
row() {
    printf '| %-8s | %7s | %9s | %8s | %7s | %8s | %7s | %6s | %10s | %11s | %10s | %12s | %11s | %12s | %20s | %5s |\n' "$@"
}

table() {
    ((${#TARGETS[@]})) || return 0
    echo "### Single-row DELETE, one per transaction"
    echo
    echo "- pgbench: pgbench -n -M <mode> -c <clients> -j min(<clients>,$MAX_THREADS) -T $DURATION -D n=0 -D nclients=<clients> -f <script>"
    echo "- script: \\set id 1 + :client_id + :nclients * :n; \\set n :n + 1; DELETE FROM <table> WHERE id = :id;"
    echo "- direct: items_plain straight to PostgreSQL (hard); audit: items_audited straight to PostgreSQL (hard, row-level"
    echo "  AFTER DELETE trigger inserting to_jsonb(OLD) into audit); pass: items_plain through softdel (allow, max_rows 0:"
    echo "  sent unchanged); limit: items_limited through softdel (unlisted: row-limit rewrite); soft: items through softdel"
    echo "  (soft, flag is_active: an UPDATE of the flag, journaled by the guard's trigger); sql: the statement softdel sends"
    echo "  for the soft DELETE, run straight against PostgreSQL"
    echo "- latency: pgbench's latency average per transaction, ms; soft-sql: what the proxy adds to the soft delete"
    echo "- check: rows removed (marked) = transactions; soft, sql: as many soft_delete operations and row images; audit: as many audit rows"
    echo
    # printf pads by bytes, so the header cell with the 2-byte "µ" gets an extra space.
    row mode clients "direct ms" "audit ms" "pass ms" "limit ms" "soft ms" "sql ms" "soft/audit" "soft/direct" \
        "sql/direct" "audit/direct" "pass/direct" "limit/direct" " soft-sql (proxy) µs" check
    row -------- ------: --------: -------: ------: -------: ------: -----: ---------: ----------: \
        ---------: -----------: ----------: -----------: -------------------: -----
    local mode clients k check t
    for mode in "${MODES[@]}"; do
        for clients in "${CLIENTS[@]}"; do
            k="$mode,$clients"
            check=ok
            for t in "${TARGETS[@]}"; do
                [[ "${CHECK[$k,$t]:-}" == ok ]] || check="see below"
            done
            row "$mode" "$clients" \
                "$(fmt_num "${LAT[$k,direct]:-}" %.3f)" "$(fmt_num "${LAT[$k,audit]:-}" %.3f)" \
                "$(fmt_num "${LAT[$k,pass]:-}" %.3f)" "$(fmt_num "${LAT[$k,limit]:-}" %.3f)" \
                "$(fmt_num "${LAT[$k,soft]:-}" %.3f)" "$(fmt_num "${LAT[$k,sql]:-}" %.3f)" \
                "$(ratio "${LAT[$k,soft]:-}" "${LAT[$k,audit]:-}")" \
                "$(ratio "${LAT[$k,soft]:-}" "${LAT[$k,direct]:-}")" \
                "$(ratio "${LAT[$k,sql]:-}" "${LAT[$k,direct]:-}")" \
                "$(ratio "${LAT[$k,audit]:-}" "${LAT[$k,direct]:-}")" \
                "$(ratio "${LAT[$k,pass]:-}" "${LAT[$k,direct]:-}")" \
                "$(ratio "${LAT[$k,limit]:-}" "${LAT[$k,direct]:-}")" \
                "$(added_us "${LAT[$k,soft]:-}" "${LAT[$k,sql]:-}")" \
                "$check"
        done
    done
    local key
    for key in "${!CHECK[@]}"; do
        [[ "${CHECK[$key]}" == ok ]] || printf '\n- check %s: %s' "$key" "${CHECK[$key]}"
    done
    echo
    echo
}

bulk_row() { printf '| %-14s | %-13s | %9s | %7s | %7s | %4s | %7s | %5s |\n' "$@"; }

bulk_table() {
    ((BULK_REPS > 0)) || return 0
    echo "### Bulk DELETE of $BULK_ROWS rows, one statement"
    echo
    echo "- DELETE FROM <table> WHERE id <= $BULK_ROWS on a table of $BULK_ROWS rows, refilled (untimed) before each of"
    echo "  $BULK_REPS repetitions per target, targets interleaved; pgbench -n -M simple -c 1 -t 1, its latency in ms"
    echo "- bare: items_plain straight to PostgreSQL; journal: items_journal through softdel (the guard journals every row"
    echo "  image); journal-direct: items_journal straight to PostgreSQL (journaled by the guard too); audit: items_audited"
    echo "  straight to PostgreSQL (row-level audit trigger); keep-copy, keep-jsonb: the floor of keeping the rows, the same"
    echo "  DELETE on items_plain in a CTE, its RETURNING * inserted as rows (keep-copy) or as to_jsonb(row) (keep-jsonb)"
    echo "  into a table without an index"
    echo "- check: the table emptied; journal, journal-direct: one new journal_delete operation with $BULK_ROWS new images;"
    echo "  audit: $BULK_ROWS audit rows; keep-copy, keep-jsonb: $BULK_ROWS rows kept"
    echo
    bulk_row target table "median ms" "min ms" "max ms" runs "/bare" check
    bulk_row -------------- ------------- --------: ------: ------: ---: ------: -----
    local t bare median
    bare="$(stat_of median "${BULK_MS[bare]:-}")"
    for t in "${BULK_TARGETS[@]}"; do
        median="$(stat_of median "${BULK_MS[$t]:-}")"
        bulk_row "$t" "$(bulk_table_of "$t")" "$median" \
            "$(stat_of min "${BULK_MS[$t]:-}")" "$(stat_of max "${BULK_MS[$t]:-}")" \
            "$(wc -w <<<"${BULK_MS[$t]:-}")" "$(ratio "$median" "$bare")" \
            "$([[ "${BULK_CHECK[$t]:-}" == ok ]] && echo ok || echo "see below")"
    done
    for t in "${BULK_TARGETS[@]}"; do
        [[ "${BULK_CHECK[$t]:-}" == ok ]] || printf '\n- check bulk %s: %s' "$t" "${BULK_CHECK[$t]:-not run}"
    done
    echo
    echo
}

# met_missed: " met at every point: ..." or " **not met** (n of N points): ...; met: ..."
# from the arrays met and missed of the caller.
met_missed() {
    local total=$((${#met[@]} + ${#missed[@]})) m="" x
    for x in "${missed[@]}"; do m+="${m:+, }$x"; done
    if ((${#missed[@]})); then
        printf '**not met** (%d of %d points): %s' "${#missed[@]}" "$total" "$m"
        m=""
        for x in "${met[@]}"; do m+="${m:+, }$x"; done
        [[ -n "$m" ]] && printf '; met: %s' "$m"
    else
        for x in "${met[@]}"; do m+="${m:+, }$x"; done
        printf 'met at every point: %s' "$m"
    fi
    return 0
}

# What the design set out to reach, point by point.
targets() {
    echo "### Targets"
    echo
    local mode clients k r met=() missed=() line
    if [[ " ${TARGETS[*]} " == *" soft "* && " ${TARGETS[*]} " == *" audit "* ]]; then
        for mode in "${MODES[@]}"; do
            for clients in "${CLIENTS[@]}"; do
                k="$mode,$clients"
                r="$(ratio "${LAT[$k,soft]:-}" "${LAT[$k,audit]:-}")"
                if at_most "$r" "$MAX_SOFT_AUDIT"; then met+=("$mode/$clients $r"); else missed+=("$mode/$clients $r"); fi
            done
        done
        line="- soft/audit <= $MAX_SOFT_AUDIT: "
        echo "$line$(met_missed)"
    fi
    met=() missed=()
    if [[ " ${TARGETS[*]} " == *" soft "* && " ${TARGETS[*]} " == *" direct "* ]]; then
        for mode in "${MODES[@]}"; do
            for clients in "${CLIENTS[@]}"; do
                k="$mode,$clients"
                r="$(ratio "${LAT[$k,soft]:-}" "${LAT[$k,direct]:-}")"
                if at_most "$r" "$MAX_SOFT_DIRECT"; then met+=("$mode/$clients $r"); else missed+=("$mode/$clients $r"); fi
            done
        done
        line="- soft/direct <= $MAX_SOFT_DIRECT"
        [[ "$DURABILITY" == on ]] && line+=" (DURABILITY=on: the target applies): " \
            || line+=" (the target applies at DURABILITY=on; here fsync is off, for information): "
        echo "$line$(met_missed)"
    fi
    if ((BULK_REPS > 0)); then
        local bare journal direct
        bare="$(stat_of median "${BULK_MS[bare]:-}")"
        journal="$(ratio "$(stat_of median "${BULK_MS[journal]:-}")" "$bare")"
        direct="$(ratio "$(stat_of median "${BULK_MS[journal-direct]:-}")" "$bare")"
        line="- bulk journal/bare <= $MAX_BULK_JOURNAL_BARE: "
        at_most "$journal" "$MAX_BULK_JOURNAL_BARE" && line+="met" || line+="**not met**"
        line+=" ($journal through softdel, $direct straight to PostgreSQL; the floors: keeping the rows"
        line+=" $(ratio "$(stat_of median "${BULK_MS[keep-copy]:-}")" "$bare"), as jsonb"
        line+=" $(ratio "$(stat_of median "${BULK_MS[keep-jsonb]:-}")" "$bare"))"
        echo "$line"
    fi
}

report() {
    local text
    text="$(machine_info; table; bulk_table; targets)"
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
    seed_journal
    fill_soft_table
    write_scripts
    start_softdel
    check_rules_applied
    warm_up
    run_matrix
    run_bulk_section
    report
    ((FAILURES == 0)) || die "$FAILURES pgbench run(s) failed (marked 'fail' in the tables)"
    ((MISMATCHES == 0)) || die "$MISMATCHES run(s) did not remove (and journal) what they should (see the checks)"
}

main "$@"
