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

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init "$@"
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
# The report's ratios (of latencies) have two decimals.
RATIO_DECIMALS=2

JOURNAL_BASE=0    # the journal's last operation id before every run (see reset_journal)
MISMATCHES=0
declare -A CHECK=() BULK_MS=() BULK_CHECK=()

parse_args() {
    parse_common_args "$@"
    ROWS="${ROWS:-$((120000 * DURATION))}"
    [[ "$DURABILITY" == on || "$DURABILITY" == off ]] || die "DURABILITY must be on or off (got '$DURABILITY')"
    [[ "$ROWS" =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive integer (got '$ROWS')"
    [[ "$MAX_THREADS" =~ ^[1-9][0-9]*$ ]] || die "MAX_THREADS must be a positive integer (got '$MAX_THREADS')"
    [[ "$BULK_ROWS" =~ ^[1-9][0-9]*$ ]] || die "BULK_ROWS must be a positive integer (got '$BULK_ROWS')"
    [[ "$BULK_REPS" =~ ^[0-9]+$ ]] || die "BULK_REPS must be a non-negative integer (got '$BULK_REPS')"
    [[ "$JOURNAL_SEED" =~ ^[0-9]+$ ]] || die "JOURNAL_SEED must be a non-negative integer (got '$JOURNAL_SEED')"
    # Without single-row targets there is still the bulk section to measure.
    local no_targets="TARGETS is empty and BULK_REPS is 0: nothing to measure"
    ((BULK_REPS == 0)) || no_targets=""
    check_lists "$no_targets"
    check_out_file
}

# --- installation --------------------------------------------------------

ensure_packages() {
    have_postgres && return 0
    is_root || die "PostgreSQL 15 not found in $POSTGRES_BINDIR; run as root or: apt-get install postgresql-15"
    begin_install postgresql-15
    apt_install postgresql-15 || die "could not install postgresql-15"
    have_postgres || die "postgresql-15 installed but binaries not found in $POSTGRES_BINDIR"
}

# --- setup ---------------------------------------------------------------

# Durability off by default (as in proxy_overhead.sh): the figures show the
# statements' CPU cost rather than the disk's. DURABILITY=on keeps
# PostgreSQL's defaults.
start_postgres_for_deletes() {
    local settings=("max_connections = 100")
    [[ "$DURABILITY" == off ]] && settings+=("${NO_DURABILITY[@]}")
    start_postgres soft_delete.sh "${settings[@]}"
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
    check_rules
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
    pgbench_through "$@" -D n=0 -D nclients="$3" -f "$WORK/delete_$1.sql"
}

# run_bulk TARGET: one transaction of the bulk script; prints pgbench's output.
run_bulk() {
    "$POSTGRES_BINDIR/pgbench" -n -M simple -c 1 -j 1 -t 1 -f "$WORK/bulk_$1.sql" \
        -h 127.0.0.1 -p "$(target_port "$1")" -U "$DB_USER" "$DB" 2>&1
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

# measure TARGET MODE CLIENTS: the table refilled, then TPS/LAT for that
# point ("fail" on error) and what the run removed checked.
measure() {
    local target="$1" key="$2,$3,$1"
    refill "$target"
    measure_point "$@"
    if [[ "${TPS[$key]}" == fail ]]; then
        CHECK[$key]=fail
    else
        verify "$target" "$key" "$LAST_TXS"
    fi
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
    local pg_version
    pg_version="$(psql_at "$DIRECT_PORT" -d postgres -c 'show server_version')"
    report_heading "softdel soft DELETE cost (guard installed), against a hard DELETE and an audit trigger"
    if [[ "$DURABILITY" == off ]]; then
        echo "- PostgreSQL: $pg_version (fsync=off, synchronous_commit=off, full_page_writes=off)"
    else
        echo "- PostgreSQL: $pg_version (durability defaults: fsync=on, synchronous_commit=on)"
    fi
    echo "- softdel: $(softdel_rev) (release build); journal and guard installed with softdel init --rules"
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

# What the design set out to reach, point by point.
targets() {
    echo "### Targets"
    echo
    local met=() missed=() line
    if [[ " ${TARGETS[*]} " == *" soft "* && " ${TARGETS[*]} " == *" audit "* ]]; then
        score_points LAT soft audit at_most "$MAX_SOFT_AUDIT"
        line="- soft/audit <= $MAX_SOFT_AUDIT: "
        echo "$line$(met_missed)"
    fi
    met=() missed=()
    if [[ " ${TARGETS[*]} " == *" soft "* && " ${TARGETS[*]} " == *" direct "* ]]; then
        score_points LAT soft direct at_most "$MAX_SOFT_DIRECT"
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

main() {
    parse_args "$@"
    install_traps

    ensure_packages
    build_softdel
    # shellcheck disable=SC2119 # no pgbouncer here, so no subdirectory
    make_workdir
    start_postgres_for_deletes
    create_schema
    write_rules
    # The journal and the guard of the tables the rules protect (items: soft,
    # items_journal: journal); both must be reported as added.
    install_guard "items items_journal" \
        items.softdel_guard_update items.softdel_guard_delete items_journal.softdel_guard_delete
    seed_journal
    fill_soft_table
    write_scripts
    start_softdel --rules "$WORK/rules.yaml"
    check_rules_applied
    warm_up --before refill "${TARGETS[@]}"
    run_matrix measure "${TARGETS[@]}"
    run_bulk_section
    report machine_info table bulk_table targets
    ((FAILURES == 0)) || die "$FAILURES pgbench run(s) failed (marked 'fail' in the tables)"
    ((MISMATCHES == 0)) || die "$MISMATCHES run(s) did not remove (and journal) what they should (see the checks)"
}

main "$@"
