#!/usr/bin/env bash
# Instructions per transaction spent by the proxy: softdel and PgBouncer
# (session mode) run under valgrind's callgrind while `pgbench -S` sends
# select-only transactions through them. An instruction count, unlike TPS
# or CPU time, does not move with what else the machine is doing, so a
# change to the relay can be compared on a busy machine.
#
# Usage: benches/instructions.sh [--out FILE]
#
# Environment:
#   TXS              transactions per measured run (default 3000)
#   BASE_TXS         transactions of the run subtracted from it, which
#                    cancels start-up, connection and shutdown (default 500)
#   OTHER_SOFTDEL    a second softdel binary measured beside this tree's
#                    (an older build, say); its column is "other softdel"
#   POSTGRES_BINDIR  PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
#
# Each point is (instructions of a TXS run - those of a BASE_TXS run) /
# (TXS - BASE_TXS), one client, simple and extended protocol. Runs as root
# (PostgreSQL and PgBouncer as `postgres`) or as an ordinary user.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
COMMAND_LINE="$(printf '%q ' "$0" "$@")"
COMMAND_LINE="${COMMAND_LINE% }"
readonly SCRIPT_DIR REPO_ROOT COMMAND_LINE
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
clear_caller_env

TXS="${TXS:-3000}"
BASE_TXS="${BASE_TXS:-500}"
OTHER_SOFTDEL="${OTHER_SOFTDEL:-}"
POSTGRES_BINDIR="${POSTGRES_BINDIR:-/usr/lib/postgresql/15/bin}"
DB=bench DB_USER=postgres
OUT_FILE=""
WORK="" PG_STARTED=0
declare -A IR=()

[[ "${1:-}" == "--out" ]] && OUT_FILE="${2:?--out needs a file}"
((TXS > BASE_TXS)) || die "TXS ($TXS) must be more than BASE_TXS ($BASE_TXS)"

cleanup() {
    if ((PG_STARTED)); then
        as_pg "$POSTGRES_BINDIR/pg_ctl" stop -D "$WORK/data" -m immediate >/dev/null 2>&1 || true
    fi
    [[ -n "$WORK" ]] && rm -rf "$WORK"
}

ensure_tools() {
    command -v valgrind >/dev/null || { is_root && apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
    command -v valgrind >/dev/null || die "valgrind is missing (apt-get install valgrind)"
    have_postgres || die "PostgreSQL 15 is missing: run benches/proxy_overhead.sh once, or scripts/install-deps.sh"
    PGBOUNCER_BIN="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
    [[ -x "$PGBOUNCER_BIN" ]] || die "pgbouncer is missing: run scripts/install-deps.sh"
}

start_postgres() {
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/softdel-instructions.XXXXXX")"
    # PgBouncer (as postgres) writes its callgrind file here too.
    chmod 777 "$WORK"
    pick_free_port DIRECT_PORT
    as_pg "$POSTGRES_BINDIR/initdb" -D "$WORK/data" -U "$DB_USER" --auth=trust --no-sync \
        -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 || die "initdb failed"
    printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nfsync = off\n" \
        "$DIRECT_PORT" "$WORK" >>"$WORK/data/postgresql.conf"
    PG_STARTED=1
    as_pg "$POSTGRES_BINDIR/pg_ctl" start -D "$WORK/data" -l "$WORK/postgres.log" -w -t 60 >/dev/null \
        || die "PostgreSQL failed to start"
    psql_at "$DIRECT_PORT" -d postgres -c "create database $DB"
    "$POSTGRES_BINDIR/pgbench" -i -q -s 1 -h 127.0.0.1 -p "$DIRECT_PORT" -U "$DB_USER" "$DB" \
        >"$WORK/pgbench-init.log" 2>&1 || die "pgbench -i failed"
}

# proxy_command TARGET PORT: the command line of a proxy listening on PORT.
proxy_command() {
    case "$1" in
        softdel) echo "$SOFTDEL_BIN proxy --listen 127.0.0.1:$2 --upstream 127.0.0.1:$DIRECT_PORT" ;;
        other) echo "$OTHER_SOFTDEL proxy --listen 127.0.0.1:$2 --upstream 127.0.0.1:$DIRECT_PORT" ;;
        pgbouncer)
            cat >"$WORK/pgbouncer.ini" <<INI
[databases]
$DB = host=127.0.0.1 port=$DIRECT_PORT dbname=$DB
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $2
auth_type = trust
auth_file = $WORK/userlist.txt
pool_mode = session
unix_socket_dir =
INI
            echo "\"$DB_USER\" \"\"" >"$WORK/userlist.txt"
            is_root && chown postgres: "$WORK/pgbouncer.ini" "$WORK/userlist.txt"
            echo "$PGBOUNCER_BIN $WORK/pgbouncer.ini"
            ;;
    esac
}

# instructions TARGET MODE TRANSACTIONS: the proxy's instruction count for a
# whole run (start, one pgbench client, TRANSACTIONS, stop).
instructions() {
    local target="$1" mode="$2" txs="$3" port out pid _
    pick_free_port port
    out="$WORK/callgrind.$target.$mode.$txs"
    # PgBouncer refuses to run as root; softdel runs as whoever runs this.
    local run=()
    [[ "$target" == pgbouncer ]] && is_root && run=(runuser -u postgres --)
    # shellcheck disable=SC2046
    (cd "$WORK" && exec ${run[@]+"${run[@]}"} valgrind --tool=callgrind --callgrind-out-file="$out" \
        $(proxy_command "$target" "$port")) </dev/null >"$out.log" 2>&1 &
    pid=$!
    for _ in {1..600}; do
        psql_at "$port" -d "$DB" -c 'select 1' >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || die "$target exited under valgrind: $(tail -n 5 "$out.log")"
        sleep 0.1
    done
    "$POSTGRES_BINDIR/pgbench" -S -n -M "$mode" -c 1 -t "$txs" -h 127.0.0.1 -p "$port" \
        -U "$DB_USER" "$DB" >"$out.pgbench" 2>&1 || die "pgbench through $target failed"
    # The proxy runs as `postgres` under runuser: signal the proxy itself.
    pkill -TERM -f -- "--callgrind-out-file=$out" || true
    for _ in {1..600}; do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    wait "$pid" 2>/dev/null || true
    awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

measure() {
    local target="$1" mode="$2" small large
    log "$target, $mode: $BASE_TXS and $TXS transactions under callgrind"
    small="$(instructions "$target" "$mode" "$BASE_TXS")"
    large="$(instructions "$target" "$mode" "$TXS")"
    IR[$target,$mode]="$(awk -v a="$large" -v b="$small" -v n="$((TXS - BASE_TXS))" \
        'BEGIN { printf "%.0f", (a - b) / n }')"
}

report() {
    local mode text
    text="$(
        echo "## Proxy instructions per transaction (callgrind, pgbench -S, 1 client)"
        echo
        echo "- softdel: $(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)${OTHER_SOFTDEL:+; other softdel: $OTHER_SOFTDEL}"
        echo "- pgbouncer: $("$PGBOUNCER_BIN" --version 2>&1 | head -n 1) (session mode)"
        echo "- command: TXS=$TXS BASE_TXS=$BASE_TXS${OTHER_SOFTDEL:+ OTHER_SOFTDEL=$OTHER_SOFTDEL} $COMMAND_LINE"
        echo
        echo "| mode     | softdel | pgbouncer | softdel/pgbouncer |${OTHER_SOFTDEL:+ other softdel | softdel/other |}"
        echo "| -------- | ------: | --------: | ----------------: |${OTHER_SOFTDEL:+ ------------: | ------------: |}"
        for mode in simple extended; do
            printf '| %-8s | %7s | %9s | %17s |' "$mode" "${IR[softdel,$mode]}" "${IR[pgbouncer,$mode]}" \
                "$(awk -v a="${IR[softdel,$mode]}" -v b="${IR[pgbouncer,$mode]}" 'BEGIN { printf "%.3f", a / b }')"
            if [[ -n "$OTHER_SOFTDEL" ]]; then
                printf ' %12s | %13s |' "${IR[other,$mode]}" \
                    "$(awk -v a="${IR[softdel,$mode]}" -v b="${IR[other,$mode]}" 'BEGIN { printf "%.3f", a / b }')"
            fi
            echo
        done
    )"
    printf '%s\n' "$text"
    [[ -n "$OUT_FILE" ]] && printf '%s\n' "$text" >"$OUT_FILE"
    return 0
}

main() {
    trap cleanup EXIT
    ensure_tools
    build_softdel
    [[ -z "$OTHER_SOFTDEL" || -x "$OTHER_SOFTDEL" ]] || die "OTHER_SOFTDEL=$OTHER_SOFTDEL is not an executable"
    start_postgres
    local targets=(softdel pgbouncer) target mode
    [[ -n "$OTHER_SOFTDEL" ]] && targets+=(other)
    for mode in simple extended; do
        for target in "${targets[@]}"; do
            measure "$target" "$mode"
        done
    done
    report
}

main "$@"
