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

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init "$@"
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

# TLS=1: self-signed certificate and key, shared by all targets, and what
# each proxy is told about them (see make_tls_cert).
TLS_CERT=""
TLS_KEY=""
SOFTDEL_TLS=()
BOUNCER_TLS=()

parse_args() {
    parse_common_args "$@"
    [[ "$TLS" =~ ^[01]$ ]] || die "TLS must be 0 or 1 (got '$TLS')"
    check_out_file
}

# --- installation --------------------------------------------------------

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

    begin_install "missing packages: ${missing[*]}"
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

# --- setup ---------------------------------------------------------------

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
    # TLS terminates at softdel; without --upstream-tls disable it would also
    # negotiate TLS with the cluster (default prefer), which now offers it.
    SOFTDEL_TLS=(--tls-cert "$TLS_CERT" --tls-key "$TLS_KEY" --upstream-tls disable)
    # pgbouncer: clients may use TLS; the server side stays plaintext.
    BOUNCER_TLS=("client_tls_sslmode = allow" "client_tls_key_file = $TLS_KEY"
                 "client_tls_cert_file = $TLS_CERT" "server_tls_sslmode = disable")
}

# PostgreSQL itself, the direct target.
start_direct() {
    local settings=()
    if ((TLS)); then settings=("ssl = on" "ssl_cert_file = '$TLS_CERT'" "ssl_key_file = '$TLS_KEY'"); fi
    # Throwaway cluster: durability off, enough connections for all targets.
    start_postgres proxy_overhead.sh "${NO_DURABILITY[@]}" "max_connections = 200" \
        ${settings[@]+"${settings[@]}"}
}

init_pgbench_db() {
    log "creating database '$DB' and running pgbench -i -s $SCALE"
    pgbench_init "$SCALE"
}

start_proxies() {
    start_softdel ${SOFTDEL_TLS[@]+"${SOFTDEL_TLS[@]}"}
    if [[ -z "$PGBOUNCER_BIN" ]]; then
        warn "pgbouncer not available; pgbouncer columns will show '-'"
        return 0
    fi
    start_pgbouncer ${BOUNCER_TLS[@]+"${BOUNCER_TLS[@]}"}
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
    # Scoped to this function (and so to pgbench): libpq fails rather than
    # falling back to plaintext.
    if ((TLS)); then local -x PGSSLMODE=require; fi
    pgbench_through "$@" -S
}

# The pid of a proxy target's process (the one that does the work).
proxy_pid() {
    case "$1" in
        softdel) echo "$SOFTDEL_PID" ;;
        pgbouncer) cat "$WORK/pgbouncer/pgbouncer.pid" 2>/dev/null ;;
    esac
}

# --- report --------------------------------------------------------------

machine_info() {
    local pg_version bouncer_version="not installed" tls_env="" pgssl_env=""
    if ((TLS)); then tls_env="TLS=1 " pgssl_env="PGSSLMODE=require "; fi
    pg_version="$(psql_at "$DIRECT_PORT" -d postgres -c 'show server_version')"
    [[ -n "$BOUNCER_PORT" ]] && bouncer_version="$(pgbouncer_version)"
    report_heading "softdel proxy overhead (pgbench -S, select-only)"
    echo "- PostgreSQL: $pg_version (fsync=off, scale $SCALE)"
    echo "- pgbouncer: $bouncer_version"
    echo "- softdel: $(softdel_rev) (session mode, release build)"
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

main() {
    parse_args "$@"
    install_traps

    ensure_packages
    build_softdel
    make_workdir pgbouncer
    make_tls_cert
    start_direct
    init_pgbench_db
    start_proxies
    verify_tls
    # shellcheck disable=SC2046 # targets prints one word each
    warm_up $(targets)
    # shellcheck disable=SC2046
    run_matrix measure_point $(targets)
    report machine_info table cpu_table
    ((FAILURES == 0)) || die "$FAILURES pgbench run(s) failed (marked 'fail' in the table)"
}

main "$@"
