#!/usr/bin/env bash
# Measure softdel's overhead with pgbench: read-only pgbench (-S) against
# PostgreSQL directly, through softdel, and through pgbouncer (session mode)
# as a reference point for "what a mature pooler costs".
#
# Usage: benches/proxy_overhead.sh [--out FILE]
#
#   --out FILE   also write the report (machine info + table) to FILE
#
# Environment:
#   DURATION         seconds per pgbench run (default 10)
#   WARMUP           seconds of warm-up per target before measuring (default 3, 0 = none)
#   SCALE            pgbench scale factor (default 10)
#   MAX_THREADS      pgbench -j is min(clients, MAX_THREADS) (default 2)
#   POSTGRES_BINDIR  PostgreSQL 15 binaries (default /usr/lib/postgresql/15/bin)
#   TLS              1 = clients use TLS (PGSSLMODE=require) to all three targets:
#                    a throwaway self-signed certificate for PostgreSQL (ssl=on),
#                    softdel (--tls-cert/--tls-key) and pgbouncer (client_tls_*);
#                    the proxies' upstream stays plaintext on loopback (default 0)
#
# PG* and SOFTDEL_* variables from the caller's environment are ignored.
#
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
MAX_THREADS="${MAX_THREADS:-2}"
POSTGRES_BINDIR="${POSTGRES_BINDIR:-/usr/lib/postgresql/15/bin}"
TLS="${TLS:-0}"
readonly MODES=(simple extended)
readonly CLIENTS=(1 8 32)
readonly DB=bench
readonly DB_USER=postgres

OUT_FILE=""
WORK=""           # temp dir holding everything below
PGDATA_DIR=""
DIRECT_PORT=""    # PostgreSQL itself
SOFTDEL_PORT=""
BOUNCER_PORT=""   # empty when pgbouncer is unavailable
PGBOUNCER_BIN=""
SOFTDEL_BIN=""
SOFTDEL_PID=""
BOUNCER_PID=""    # pid of the (runuser ->) pgbouncer we started
TLS_CERT=""       # TLS=1: self-signed certificate and key, shared by all targets
TLS_KEY=""
PG_STARTED=0
INTERRUPTED=0
USED_PORTS=()
FAILURES=0
declare -A TPS=() LAT=() CPU=()


usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }

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
    [[ "$TLS" =~ ^[01]$ ]] || die "TLS must be 0 or 1 (got '$TLS')"
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
    [[ -n "$PGBOUNCER_BIN" ]] || missing+=(pgbouncer)
    if ((TLS)) && ! command -v openssl >/dev/null; then missing+=(openssl); fi
    ((${#missing[@]})) || return 0

    if ! is_root; then
        have_postgres || die "PostgreSQL 15 not found in $POSTGRES_BINDIR; run as root or: apt-get install postgresql-15"
        if ((TLS)) && ! command -v openssl >/dev/null; then
            die "TLS=1 needs openssl; run as root or: apt-get install openssl"
        fi
        warn "pgbouncer not installed and not root; continuing without pgbouncer"
        return 0
    fi

    # On a systemd host the packages also start their default services
    # (postgresql on 5432, pgbouncer on 6432); ours use other ports.
    log "installing missing packages: ${missing[*]}"
    apt-get update -q </dev/null >&2 || warn "apt-get update failed; trying to install anyway"
    if ! have_postgres; then
        apt_install postgresql-15 || die "could not install postgresql-15"
        have_postgres || die "postgresql-15 installed but binaries not found in $POSTGRES_BINDIR"
    fi
    if [[ -z "$PGBOUNCER_BIN" ]]; then
        # pgbouncer is only the reference column; the benchmark is still useful without it.
        apt_install pgbouncer || warn "could not install pgbouncer; continuing without it"
        find_pgbouncer
    fi
    if ((TLS)) && ! command -v openssl >/dev/null; then
        apt_install openssl || die "could not install openssl (needed for TLS=1)"
    fi
}

# --- helpers -------------------------------------------------------------

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

# TLS=1: a throwaway self-signed certificate for localhost/127.0.0.1. The key
# is owned by the cluster owner with mode 0600, as PostgreSQL insists.
make_tls_cert() {
    ((TLS)) || return 0
    TLS_CERT="$WORK/tls-cert.pem" TLS_KEY="$WORK/tls-key.pem"
    log "generating a self-signed TLS certificate (CN=localhost)"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$TLS_KEY" -out "$TLS_CERT" </dev/null >"$WORK/openssl.log" 2>&1 \
        || { cat "$WORK/openssl.log" >&2; die "openssl could not create the TLS certificate"; }
    chmod 600 "$TLS_KEY"
    chmod 644 "$TLS_CERT"
    if is_root; then chown postgres: "$TLS_KEY" "$TLS_CERT"; fi
}

start_postgres() {
    pick_free_port DIRECT_PORT
    log "initdb + starting PostgreSQL on 127.0.0.1:$DIRECT_PORT"
    as_pg "$POSTGRES_BINDIR/initdb" -D "$PGDATA_DIR" -U "$DB_USER" --auth=trust --no-sync \
        -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 \
        || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
    # Throwaway cluster: durability off, enough connections for all targets.
    cat >>"$PGDATA_DIR/postgresql.conf" <<EOF

# --- proxy_overhead.sh ---
listen_addresses = '127.0.0.1'
port = $DIRECT_PORT
unix_socket_directories = '$WORK'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
    if ((TLS)); then
        cat >>"$PGDATA_DIR/postgresql.conf" <<EOF
ssl = on
ssl_cert_file = '$TLS_CERT'
ssl_key_file = '$TLS_KEY'
EOF
    fi
    PG_STARTED=1
    as_pg "$POSTGRES_BINDIR/pg_ctl" start -D "$PGDATA_DIR" -l "$WORK/postgres.log" -w -t 60 >/dev/null \
        || die "PostgreSQL failed to start"
}

init_pgbench_db() {
    log "creating database '$DB' and running pgbench -i -s $SCALE"
    psql_at "$DIRECT_PORT" -d postgres -c "create database $DB"
    "$POSTGRES_BINDIR/pgbench" -i -q -s "$SCALE" -h 127.0.0.1 -p "$DIRECT_PORT" -U "$DB_USER" "$DB" \
        >"$WORK/pgbench-init.log" 2>&1 \
        || { cat "$WORK/pgbench-init.log" >&2; die "pgbench -i failed"; }
}

start_softdel() {
    pick_free_port SOFTDEL_PORT
    log "starting softdel on 127.0.0.1:$SOFTDEL_PORT -> 127.0.0.1:$DIRECT_PORT"
    local tls_args=()
    # TLS terminates at softdel; without --upstream-tls disable it would also
    # negotiate TLS with the cluster (default prefer), which now offers it.
    if ((TLS)); then
        tls_args=(--tls-cert "$TLS_CERT" --tls-key "$TLS_KEY" --upstream-tls disable)
    fi
    "$SOFTDEL_BIN" proxy --listen "127.0.0.1:$SOFTDEL_PORT" --upstream "127.0.0.1:$DIRECT_PORT" \
        ${tls_args[@]+"${tls_args[@]}"} </dev/null >"$WORK/softdel.log" 2>&1 &
    SOFTDEL_PID=$!
    wait_for_sql softdel "$SOFTDEL_PORT" "$SOFTDEL_PID"
}

start_pgbouncer() {
    if [[ -z "$PGBOUNCER_BIN" ]]; then
        warn "pgbouncer not available; pgbouncer columns will show '-'"
        return 0
    fi
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
    if ((TLS)); then
        # Clients may use TLS; the server side stays plaintext.
        cat >>"$dir/pgbouncer.ini" <<EOF
client_tls_sslmode = allow
client_tls_key_file = $TLS_KEY
client_tls_cert_file = $TLS_CERT
server_tls_sslmode = disable
EOF
    fi
    is_root && chown -R postgres: "$dir"
    # Foreground process in the background (not -d) so we own its pid. It
    # logs to stderr; no `logfile`, as root creates the redirect target.
    as_pg "$PGBOUNCER_BIN" "$dir/pgbouncer.ini" </dev/null >>"$dir/pgbouncer.log" 2>&1 &
    BOUNCER_PID=$!
    wait_for_sql pgbouncer "$BOUNCER_PORT" "$BOUNCER_PID"
}

# TLS=1: prove, before measuring, that every target negotiates TLS with the
# client (sslmode=require fails otherwise) and that the proxies' upstream
# connections are plaintext, as intended.
verify_tls() {
    ((TLS)) || return 0
    local t ssl want
    for t in $(targets); do
        ssl="$("$POSTGRES_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 \
            "host=127.0.0.1 port=$(target_port "$t") user=$DB_USER dbname=$DB sslmode=require" \
            -c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' 2>&1)" \
            || die "TLS check failed: $t does not accept sslmode=require connections: $ssl"
        # pg_stat_ssl describes the server's side: the client itself for
        # direct, the proxy's upstream connection otherwise.
        if [[ "$t" == direct ]]; then want=t; else want=f; fi
        [[ "$ssl" == "$want" ]] \
            || die "TLS check failed: pg_stat_ssl.ssl through $t is '$ssl', expected '$want'"
        log "TLS check: $t accepts sslmode=require (pg_stat_ssl.ssl=$ssl)"
    done
}

# --- measuring -----------------------------------------------------------

target_port() {
    case "$1" in
        direct) echo "$DIRECT_PORT" ;;
        softdel) echo "$SOFTDEL_PORT" ;;
        pgbouncer) echo "$BOUNCER_PORT" ;;
    esac
}

targets() {
    echo direct softdel
    [[ -n "$BOUNCER_PORT" ]] && echo pgbouncer
    return 0
}

# run_pgbench TARGET MODE CLIENTS SECONDS: prints pgbench's output; fails like pgbench.
run_pgbench() {
    local target="$1" mode="$2" clients="$3" secs="$4"
    local threads=$((clients < MAX_THREADS ? clients : MAX_THREADS))
    # Scoped to this function (and so to pgbench): libpq fails rather than
    # falling back to plaintext.
    if ((TLS)); then local -x PGSSLMODE=require; fi
    "$POSTGRES_BINDIR/pgbench" -S -n -M "$mode" -c "$clients" -j "$threads" -T "$secs" \
        -h 127.0.0.1 -p "$(target_port "$target")" -U "$DB_USER" "$DB" 2>&1
}

# Warm caches (and prove each target works) before the first measured point,
# so the first column measured is not penalised.
warm_up() {
    ((WARMUP > 0)) || return 0
    local t
    for t in $(targets); do
        log "warm-up: $t (${WARMUP}s)"
        run_pgbench "$t" simple 2 "$WARMUP" >"$WORK/warmup.log" \
            || { warn "warm-up through $t failed:"; tail -n 20 "$WORK/warmup.log" >&2; }
    done
}

# The pid of a proxy target's process (the one that does the work).
proxy_pid() {
    case "$1" in
        softdel) echo "$SOFTDEL_PID" ;;
        pgbouncer) cat "$WORK/pgbouncer/pgbouncer.pid" 2>/dev/null ;;
    esac
}

# CPU time (user + system) a process has used, in clock ticks.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo ""
}

# measure TARGET MODE CLIENTS: fill TPS/LAT for that point ("fail" on
# error), and for a proxy the CPU it spent per transaction (µs): unlike
# TPS, that does not move with what else the machine is doing.
measure() {
    local target="$1" mode="$2" clients="$3" key="$2,$3,$1" out pid before="" after="" txs
    log "pgbench -M $mode -c $clients -> $target (${DURATION}s)"
    pid="$(proxy_pid "$target")"
    [[ -n "$pid" ]] && before="$(cpu_ticks "$pid")"
    if out="$(run_pgbench "$target" "$mode" "$clients" "$DURATION")"; then
        TPS[$key]="$(awk '/^tps = .*without initial connection time/ { print $3 }' <<<"$out")"
        LAT[$key]="$(awk '/^latency average = / { print $4 }' <<<"$out")"
        txs="$(awk '/^number of transactions actually processed: / { print $6 }' <<<"$out")"
        [[ -n "$pid" ]] && after="$(cpu_ticks "$pid")"
        if [[ -n "$before" && -n "$after" && "$txs" =~ ^[0-9]+$ ]] && ((txs > 0)); then
            CPU[$key]="$(awk -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" -v n="$txs" \
                'BEGIN { printf "%.2f", t * 1e6 / hz / n }')"
        fi
    fi
    if [[ -z "${TPS[$key]:-}" || -z "${LAT[$key]:-}" ]]; then
        warn "pgbench through $target failed (mode=$mode clients=$clients):"
        tail -n 20 <<<"$out" >&2
        if [[ "$target" == softdel ]] && ! kill -0 "$SOFTDEL_PID" 2>/dev/null; then
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
            for t in $(targets); do
                measure "$t" "$mode" "$clients"
            done
        done
    done
}

# --- report --------------------------------------------------------------

# ratio A B: A/B with 3 decimals, "-" if either is not a number.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.3f", a / b; else printf "-" }'; }

machine_info() {
    local pg_version bouncer_version softdel_rev cpu tls_env="" pgssl_env=""
    if ((TLS)); then tls_env="TLS=1 " pgssl_env="PGSSLMODE=require "; fi
    pg_version="$(psql_at "$DIRECT_PORT" -d postgres -c 'show server_version')"
    if [[ -n "$BOUNCER_PORT" ]]; then
        bouncer_version="$("$PGBOUNCER_BIN" --version 2>&1 | head -n 1) (session mode)"
    else
        bouncer_version="not installed"
    fi
    softdel_rev="$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
    echo "## softdel proxy overhead (pgbench -S, select-only)"
    echo
    echo "- machine: nproc=$(nproc), ${cpu:-unknown CPU}, $(uname -sr)"
    echo "- PostgreSQL: $pg_version (fsync=off, scale $SCALE)"
    echo "- pgbouncer: $bouncer_version"
    echo "- softdel: $softdel_rev (session mode, release build)"
    if ((TLS)); then
        echo "- TLS: on (client side; softdel and pgbouncer terminate TLS, upstream plaintext on loopback)"
    fi
    echo "- command: ${tls_env}DURATION=$DURATION WARMUP=$WARMUP SCALE=$SCALE MAX_THREADS=$MAX_THREADS $COMMAND_LINE"
    echo "- pgbench: ${pgssl_env}pgbench -S -n -M <mode> -c <clients> -j min(<clients>,$MAX_THREADS) -T $DURATION -h 127.0.0.1 -p <port> -U $DB_USER $DB"
    echo "- note: pgbench, the proxies and PostgreSQL share the same $(nproc) CPUs"
    echo
}

# One markdown table row, padded so the raw text lines up too.
row() {
    printf '| %-8s | %7s | %10s | %11s | %13s | %10s | %11s | %13s | %14s | %17s | %16s |\n' "$@"
}

table() {
    # printf pads by bytes, so the header cell with the 2-byte "µ" gets an extra space.
    row mode clients "direct TPS" "softdel TPS" "pgbouncer TPS" \
        "direct ms" "softdel ms" "pgbouncer ms" "softdel/direct" "softdel/pgbouncer" " softdel +lat µs"
    row -------- ------: ---------: ----------: ------------: \
        ---------: ----------: ------------: -------------: ----------------: ---------------:
    local mode clients d s b
    for mode in "${MODES[@]}"; do
        for clients in "${CLIENTS[@]}"; do
            d="$mode,$clients,direct" s="$mode,$clients,softdel" b="$mode,$clients,pgbouncer"
            row "$mode" "$clients" \
                "$(fmt_num "${TPS[$d]:-}" %.0f)" "$(fmt_num "${TPS[$s]:-}" %.0f)" "$(fmt_num "${TPS[$b]:-}" %.0f)" \
                "$(fmt_num "${LAT[$d]:-}" %.3f)" "$(fmt_num "${LAT[$s]:-}" %.3f)" "$(fmt_num "${LAT[$b]:-}" %.3f)" \
                "$(ratio "${TPS[$s]:-}" "${TPS[$d]:-}")" "$(ratio "${TPS[$s]:-}" "${TPS[$b]:-}")" \
                "$(added_us "${LAT[$s]:-}" "${LAT[$d]:-}")"
        done
    done
}

# The proxies' CPU per transaction, side by side.
cpu_row() {
    printf '| %-8s | %7s | %19s | %21s | %17s |\n' "$@"
}

cpu_table() {
    echo
    echo "CPU per transaction (user + system time of the proxy process / transactions):"
    echo
    cpu_row mode clients "softdel µs/tx" "pgbouncer µs/tx" "softdel/pgbouncer"
    cpu_row -------- ------: ------------------: --------------------: ----------------:
    local mode clients s b
    for mode in "${MODES[@]}"; do
        for clients in "${CLIENTS[@]}"; do
            s="$mode,$clients,softdel" b="$mode,$clients,pgbouncer"
            cpu_row "$mode" "$clients" "$(fmt_num "${CPU[$s]:-}" %.2f)" \
                "$(fmt_num "${CPU[$b]:-}" %.2f)" "$(ratio "${CPU[$s]:-}" "${CPU[$b]:-}")"
        done
    done
}

report() {
    local text
    text="$(machine_info; table; cpu_table)"
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
    make_tls_cert
    start_postgres
    init_pgbench_db
    start_softdel
    start_pgbouncer
    verify_tls
    warm_up
    run_matrix
    report
    ((FAILURES == 0)) || die "$FAILURES pgbench run(s) failed (marked 'fail' in the table)"
}

main "$@"
