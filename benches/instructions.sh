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

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init "$@"

TXS="${TXS:-3000}"
BASE_TXS="${BASE_TXS:-500}"
OTHER_SOFTDEL="${OTHER_SOFTDEL:-}"
POSTGRES_BINDIR="${POSTGRES_BINDIR:-/usr/lib/postgresql/15/bin}"
DB=bench DB_USER=postgres
declare -A IR=()

[[ "${1:-}" == "--out" ]] && OUT_FILE="${2:?--out needs a file}"
((TXS > BASE_TXS)) || die "TXS ($TXS) must be more than BASE_TXS ($BASE_TXS)"

ensure_tools() {
    command -v valgrind >/dev/null || { is_root && apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
    command -v valgrind >/dev/null || die "valgrind is missing (apt-get install valgrind)"
    have_postgres || die "PostgreSQL 15 is missing: run benches/proxy_overhead.sh once, or scripts/install-deps.sh"
    find_pgbouncer
    [[ -n "$PGBOUNCER_BIN" ]] || die "pgbouncer is missing: run scripts/install-deps.sh"
}

# The cluster and pgbench's tables at scale 1.
start_cluster() {
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/softdel-instructions.XXXXXX")"
    PGDATA_DIR="$WORK/data"
    # PgBouncer (as postgres) writes its callgrind file here too.
    chmod 777 "$WORK"
    start_postgres instructions.sh "fsync = off"
    pgbench_init 1
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

instructions_table() {
    local mode
    echo "## Proxy instructions per transaction (callgrind, pgbench -S, 1 client)"
    echo
    echo "- softdel: $(softdel_rev)${OTHER_SOFTDEL:+; other softdel: $OTHER_SOFTDEL}"
    echo "- pgbouncer: $(pgbouncer_version)"
    echo "- command: TXS=$TXS BASE_TXS=$BASE_TXS${OTHER_SOFTDEL:+ OTHER_SOFTDEL=$OTHER_SOFTDEL} $COMMAND_LINE"
    echo
    echo "| mode     | softdel | pgbouncer | softdel/pgbouncer |${OTHER_SOFTDEL:+ other softdel | softdel/other |}"
    echo "| -------- | ------: | --------: | ----------------: |${OTHER_SOFTDEL:+ ------------: | ------------: |}"
    for mode in simple extended; do
        printf '| %-8s | %7s | %9s | %17s |' "$mode" "${IR[softdel,$mode]}" "${IR[pgbouncer,$mode]}" \
            "$(ratio "${IR[softdel,$mode]}" "${IR[pgbouncer,$mode]}")"
        if [[ -n "$OTHER_SOFTDEL" ]]; then
            printf ' %12s | %13s |' "${IR[other,$mode]}" "$(ratio "${IR[softdel,$mode]}" "${IR[other,$mode]}")"
        fi
        echo
    done
}

main() {
    trap stop_all EXIT
    ensure_tools
    build_softdel
    [[ -z "$OTHER_SOFTDEL" || -x "$OTHER_SOFTDEL" ]] || die "OTHER_SOFTDEL=$OTHER_SOFTDEL is not an executable"
    start_cluster
    local targets=(softdel pgbouncer) target mode
    [[ -n "$OTHER_SOFTDEL" ]] && targets+=(other)
    for mode in simple extended; do
        for target in "${targets[@]}"; do
            measure "$target" "$mode"
        done
    done
    report instructions_table
}

main "$@"
