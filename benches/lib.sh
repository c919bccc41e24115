#!/usr/bin/env bash
# Helpers shared by the benchmark scripts (sourced, not run). A script calls
# bench_init "$@" and sets POSTGRES_BINDIR, DB and DB_USER; the measuring
# helpers call its run_pgbench and target_port (and proxy_pid, where it has
# one).

die()  { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
log()  { printf '[bench] %s\n' "$*" >&2; }

warn() { printf '[bench] WARNING: %s\n' "$*" >&2; }

# The caller's libpq variables (PGHOST, PGOPTIONS, PGSSLMODE, ...) and softdel
# settings (SOFTDEL_RULES, ...) must not silently change what is measured.
clear_caller_env() {
    local v
    for v in $(compgen -e | grep -E '^(PG|SOFTDEL_)' || true); do unset "$v"; done
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

have_postgres() {
    local b
    for b in initdb pg_ctl postgres pgbench psql; do
        [[ -x "$POSTGRES_BINDIR/$b" ]] || return 1
    done
}

# Run a command as the cluster owner: initdb, pg_ctl and pgbouncer refuse to
# run as root. cd into $WORK so `postgres` is not left in an unreadable cwd.
as_pg() {
    if is_root; then
        (cd "$WORK" && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pick_free_port VAR: store a currently-unused 127.0.0.1 port in VAR.
# Ports come from below Linux's ephemeral range (32768+) so outgoing
# connections made during the run cannot grab them first.
pick_free_port() {
    local p _
    for _ in {1..200}; do
        p=$((20000 + RANDOM % 12000))
        [[ " ${USED_PORTS[*]-} " == *" $p "* ]] && continue
        port_in_use "$p" && continue
        USED_PORTS+=("$p")
        printf -v "$1" '%s' "$p"
        return 0
    done
    die "no free port found"
}

# psql against one of our ports; extra args are passed to psql.
psql_at() {
    local port="$1"; shift
    "$POSTGRES_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$DB_USER" "$@"
}

# wait_for_sql NAME PORT [PID]: wait until a real query succeeds through PORT.
# A plain TCP check is not enough: the proxy must relay the startup and a query.
wait_for_sql() {
    local name="$1" port="$2" pid="${3:-}" _
    for _ in {1..300}; do
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            die "$name exited during startup (see log above)"
        fi
        psql_at "$port" -d "$DB" -c 'select 1' >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$name did not accept queries on port $port within 30s"
}

# kill_wait PID: TERM, then KILL if it does not go away within ~5s.
kill_wait() {
    local pid="$1" _
    kill "$pid" 2>/dev/null || return 0
    for _ in {1..50}; do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

build_softdel() {
    command -v cargo >/dev/null || PATH="$HOME/.cargo/bin:$PATH"
    command -v cargo >/dev/null || die "cargo not found (install Rust)"
    log "building softdel (cargo build --release)"
    (cd "$REPO_ROOT" && cargo build --release) >&2
    SOFTDEL_BIN="$REPO_ROOT/target/release/softdel"
    [[ -x "$SOFTDEL_BIN" ]] || die "build produced no $SOFTDEL_BIN"
}

# fmt_num VALUE PRINTF_FORMAT: "-" for missing or failed values.
fmt_num() { awk -v v="$1" -v f="$2" 'BEGIN { if (v ~ /^[0-9.]+$/) printf f, v; else printf "%s", (v == "" ? "-" : v) }'; }

# added_us A_MS B_MS: (A - B) in microseconds.
added_us() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/) printf "%+.0f", (a - b) * 1000; else printf "-" }'; }

# --- the scripts' frame ---------------------------------------------------

# State the helpers below share; each script adds its own.
OUT_FILE=""       # --out FILE: the report is also written there
WORK=""           # temp dir holding everything below
PGDATA_DIR=""
DIRECT_PORT=""    # PostgreSQL itself
SOFTDEL_PORT=""
BOUNCER_PORT=""   # empty when pgbouncer is not started
PGBOUNCER_BIN=""
SOFTDEL_BIN=""
SOFTDEL_PID=""
BOUNCER_PID=""    # pid of the (runuser ->) pgbouncer we started
PG_STARTED=0
INTERRUPTED=0
USED_PORTS=()
FAILURES=0
LAST_TXS=""       # transactions pgbench counted in the last measure_point
RATIO_DECIMALS=3  # what ratio prints
declare -A TPS=() LAT=() CPU=()

# bench_init "$@" (the script's own arguments): REPO_ROOT, and COMMAND_LINE,
# captured before argument parsing so the report shows exactly what was run;
# then the caller's PG* and SOFTDEL_* variables are dropped.
bench_init() {
    # This file's directory is the scripts' own, benches/.
    REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    COMMAND_LINE="$(printf '%q ' "$0" "$@")"
    COMMAND_LINE="${COMMAND_LINE% }"
    readonly REPO_ROOT COMMAND_LINE
    clear_caller_env
}

# The comment block at the top, up to the first line that is not a comment.
usage() { awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"; }

# parse_common_args "$@": --out FILE and --help; DURATION and WARMUP checked.
# The script checks its own knobs next, then calls check_out_file.
parse_common_args() {
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
}

# check_lists [EMPTY_TARGETS_MESSAGE]: MODES and CLIENTS are not empty, nor
# is TARGETS (unless the message is "": the script has something else to
# measure), and they hold only what pgbench and ALL_TARGETS know.
# shellcheck disable=SC2153 # MODES, CLIENTS, TARGETS are the script's
check_lists() {
    ((${#MODES[@]})) || die "MODES is empty"
    ((${#CLIENTS[@]})) || die "CLIENTS is empty"
    ((${#TARGETS[@]})) || [[ -z "${1:-}" ]] || die "$1"
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
}

# Fail now rather than after minutes of benchmarking; OUT_FILE made absolute.
check_out_file() {
    [[ -n "$OUT_FILE" ]] || return 0
    local out_dir
    out_dir="$(cd "$(dirname "$OUT_FILE")" 2>/dev/null && pwd)" \
        || die "directory of --out file does not exist: $OUT_FILE"
    OUT_FILE="$out_dir/$(basename "$OUT_FILE")"
    if [[ -e "$OUT_FILE" ]]; then
        [[ -w "$OUT_FILE" ]] || die "cannot write $OUT_FILE"
    else
        [[ -w "$out_dir" ]] || die "cannot create files in $out_dir"
    fi
}

# cleanup on every exit; after a Ctrl-C or a TERM there is no failure to explain.
install_traps() {
    trap cleanup EXIT
    trap 'INTERRUPTED=1; exit 130' INT
    trap 'INTERRUPTED=1; exit 143' TERM
}

# --- installation --------------------------------------------------------

find_pgbouncer() {
    # /usr/sbin is often not on a non-root user's PATH.
    PGBOUNCER_BIN="$(command -v pgbouncer || true)"
    if [[ -z "$PGBOUNCER_BIN" && -x /usr/sbin/pgbouncer ]]; then
        PGBOUNCER_BIN=/usr/sbin/pgbouncer
    fi
}

# begin_install WHAT: say so, and refresh apt's lists (a failure there is
# only warned about). On a systemd host the packages also start their
# default services (postgresql on 5432, pgbouncer on 6432); ours use other
# ports.
begin_install() {
    log "installing $1"
    apt-get update -q </dev/null >&2 || warn "apt-get update failed; trying to install anyway"
}

apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" </dev/null >&2
}

# --- setup and teardown --------------------------------------------------

# make_workdir [SUBDIR...]: WORK, a fresh temp dir (with SUBDIRs), owned by
# the cluster owner when we are root.
make_workdir() {
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/softdel-bench.XXXXXX")"
    PGDATA_DIR="$WORK/data"
    local d
    for d in "$@"; do mkdir -p "$WORK/$d"; done
    if is_root; then
        id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist"
        chown -R postgres: "$WORK"
    fi
}

# postgresql.conf lines for a throwaway cluster whose figures should show
# the statements' CPU cost rather than the disk's.
# shellcheck disable=SC2034 # used by the scripts
readonly NO_DURABILITY=("fsync = off" "synchronous_commit = off" "full_page_writes = off")

# start_postgres NAME [SETTING...]: initdb a throwaway cluster in PGDATA_DIR
# that listens on 127.0.0.1 only (DIRECT_PORT, picked here), its socket in
# WORK, the SETTINGs (postgresql.conf lines) appended under "# --- NAME ---";
# then start it.
start_postgres() {
    local name="$1"; shift
    pick_free_port DIRECT_PORT
    log "initdb + starting PostgreSQL on 127.0.0.1:$DIRECT_PORT"
    as_pg "$POSTGRES_BINDIR/initdb" -D "$PGDATA_DIR" -U "$DB_USER" --auth=trust --no-sync \
        -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 \
        || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
    {
        printf '\n# --- %s ---\n' "$name"
        printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\n" "$DIRECT_PORT" "$WORK"
        if (($#)); then printf '%s\n' "$@"; fi
    } >>"$PGDATA_DIR/postgresql.conf"
    PG_STARTED=1
    as_pg "$POSTGRES_BINDIR/pg_ctl" start -D "$PGDATA_DIR" -l "$WORK/postgres.log" -w -t 60 >/dev/null \
        || die "PostgreSQL failed to start"
}

# pgbench_init SCALE: database DB, with pgbench's tables at SCALE.
pgbench_init() {
    psql_at "$DIRECT_PORT" -d postgres -c "create database $DB"
    "$POSTGRES_BINDIR/pgbench" -i -q -s "$1" -h 127.0.0.1 -p "$DIRECT_PORT" -U "$DB_USER" "$DB" \
        >"$WORK/pgbench-init.log" 2>&1 \
        || { cat "$WORK/pgbench-init.log" >&2; die "pgbench -i failed"; }
}

# SQL straight to PostgreSQL (setup and checks of the data never go through
# a proxy).
sql() { psql_at "$DIRECT_PORT" -d "$DB" -c "$1"; }

database_url() { echo "postgres://$DB_USER@127.0.0.1:$DIRECT_PORT/$DB"; }

# check_rules: softdel accepts the benchmark's WORK/rules.yaml; what it said
# stays in WORK/rules-check.log.
check_rules() {
    "$SOFTDEL_BIN" rules check "$WORK/rules.yaml" >"$WORK/rules-check.log" 2>&1 \
        || { cat "$WORK/rules-check.log" >&2; die "the benchmark's rules file is refused"; }
}

# install_guard "TABLE..." TRIGGER...: the journal and the guard (softdel init
# --rules WORK/rules.yaml); every TABLE must be reported as added, and every
# TRIGGER (table.name) must be there, enabled.
install_guard() {
    local tables="$1" t triggers; shift
    log "installing the journal and the guard (softdel init --rules)"
    "$SOFTDEL_BIN" init --database-url "$(database_url)" --rules "$WORK/rules.yaml" \
        </dev/null >"$WORK/init.log" 2>&1 \
        || { cat "$WORK/init.log" >&2; die "softdel init --rules failed"; }
    for t in $tables; do
        grep -Eq "^(public\.)?${t}[[:space:]].*[[:space:]]added[[:space:]]*\$" "$WORK/init.log" \
            || { cat "$WORK/init.log" >&2; die "softdel init --rules did not report the guard of $t as added (output above)"; }
    done
    # The triggers themselves, not only what init says.
    triggers="$(sql "SELECT string_agg(tgrelid::regclass || '.' || tgname, ' ' ORDER BY 1)
                     FROM pg_trigger WHERE tgname LIKE 'softdel\_guard\_%' AND tgenabled = 'A'")"
    for t in "$@"; do
        [[ " $triggers " == *" $t "* ]] || die "guard trigger $t missing after softdel init (installed: ${triggers:-none})"
    done
    log "guard installed: $triggers"
}

# start_softdel [ARG...]: the proxy in front of the cluster on a port of its
# own (SOFTDEL_PORT), given ARGs (--rules FILE, TLS, ...).
start_softdel() {
    local with=""
    [[ "${1:-}" == --rules ]] && with=" with $2"
    pick_free_port SOFTDEL_PORT
    log "starting softdel on 127.0.0.1:$SOFTDEL_PORT -> 127.0.0.1:$DIRECT_PORT$with"
    "$SOFTDEL_BIN" proxy --listen "127.0.0.1:$SOFTDEL_PORT" --upstream "127.0.0.1:$DIRECT_PORT" \
        "$@" </dev/null >"$WORK/softdel.log" 2>&1 &
    SOFTDEL_PID=$!
    wait_for_sql softdel "$SOFTDEL_PORT" "$SOFTDEL_PID"
}

# start_pgbouncer [LINE...]: PgBouncer (session mode) in front of the cluster
# on BOUNCER_PORT, its files in WORK/pgbouncer (make_workdir pgbouncer), the
# LINEs added to the [pgbouncer] section of its config.
start_pgbouncer() {
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
    if (($#)); then printf '%s\n' "$@" >>"$dir/pgbouncer.ini"; fi
    is_root && chown -R postgres: "$dir"
    # Foreground process in the background (not -d) so we own its pid. It
    # logs to stderr; no `logfile`, as root creates the redirect target.
    as_pg "$PGBOUNCER_BIN" "$dir/pgbouncer.ini" </dev/null >>"$dir/pgbouncer.log" 2>&1 &
    BOUNCER_PID=$!
    wait_for_sql pgbouncer "$BOUNCER_PORT" "$BOUNCER_PID"
}

dump_logs() {
    local f
    for f in "$WORK"/postgres.log "$WORK"/softdel.log "$WORK"/pgbouncer/pgbouncer.log; do
        [[ -s "$f" ]] || continue
        printf '\n[bench] --- last lines of %s ---\n' "${f#"$WORK"/}" >&2
        tail -n 30 "$f" >&2
    done
}

# stop_all: stop what we started (pgbouncer, softdel, PostgreSQL) and drop
# the temp dir.
stop_all() {
    if [[ -n "$BOUNCER_PID" ]]; then
        # Signal pgbouncer itself (pidfile) rather than rely on runuser forwarding it.
        local bpid
        bpid="$(cat "$WORK/pgbouncer/pgbouncer.pid" 2>/dev/null || true)"
        [[ -n "$bpid" ]] && kill_wait "$bpid"
        kill_wait "$BOUNCER_PID"
    fi
    [[ -n "$SOFTDEL_PID" ]] && kill_wait "$SOFTDEL_PID"
    if ((PG_STARTED)); then
        as_pg "$POSTGRES_BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m immediate -w >/dev/null 2>&1 || true
    fi
    [[ -n "$WORK" ]] && rm -rf "$WORK"
    return 0
}

# Runs on every exit (normal, error, Ctrl-C): stop what we started, drop temp files.
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    # Logs help explain a failure, not a Ctrl-C.
    if [[ -n "$WORK" && $rc -ne 0 && $INTERRUPTED -eq 0 ]]; then dump_logs; fi
    stop_all
    exit "$rc"
}

# --- measuring -----------------------------------------------------------

# warm_up [--before CMD] TARGET...: WARMUP seconds of run_pgbench through
# each target (after CMD TARGET), to warm caches (and prove each target
# works) before the first measured point, so the first column measured is
# not penalised.
warm_up() {
    local before="" t
    if [[ "${1:-}" == --before ]]; then before="$2"; shift 2; fi
    ((WARMUP > 0)) || return 0
    for t in "$@"; do
        log "warm-up: $t (${WARMUP}s)"
        if [[ -n "$before" ]]; then "$before" "$t"; fi
        run_pgbench "$t" simple 2 "$WARMUP" >"$WORK/warmup.log" \
            || { warn "warm-up through $t failed:"; tail -n 20 "$WORK/warmup.log" >&2; }
    done
}

# pgbench_through TARGET MODE CLIENTS SECONDS [ARG...]: pgbench for SECONDS
# through TARGET's port, -j min(CLIENTS, MAX_THREADS), with the script's
# ARGs; prints pgbench's output and fails like pgbench.
pgbench_through() {
    local target="$1" mode="$2" clients="$3" secs="$4"; shift 4
    local threads=$((clients < MAX_THREADS ? clients : MAX_THREADS))
    "$POSTGRES_BINDIR/pgbench" -n -M "$mode" -c "$clients" -j "$threads" -T "$secs" "$@" \
        -h 127.0.0.1 -p "$(target_port "$target")" -U "$DB_USER" "$DB" 2>&1
}

# CPU time (user + system) a process has used, in clock ticks.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo ""
}

# measure_point TARGET MODE CLIENTS: DURATION seconds of run_pgbench; fills
# TPS/LAT for that point ("fail" on error, counted in FAILURES) and
# LAST_TXS. Where the script has proxy_pid TARGET, also CPU: what the proxy
# spent per transaction (µs), which, unlike TPS, does not move with what
# else the machine is doing.
measure_point() {
    local target="$1" mode="$2" clients="$3" key="$2,$3,$1" out="" pid="" before="" after=""
    LAST_TXS=""
    log "pgbench -M $mode -c $clients -> $target (${DURATION}s)"
    if declare -F proxy_pid >/dev/null; then pid="$(proxy_pid "$target")"; fi
    [[ -n "$pid" ]] && before="$(cpu_ticks "$pid")"
    if out="$(run_pgbench "$target" "$mode" "$clients" "$DURATION")"; then
        TPS[$key]="$(awk '/^tps = .*without initial connection time/ { print $3 }' <<<"$out")"
        LAT[$key]="$(awk '/^latency average = / { print $4 }' <<<"$out")"
        LAST_TXS="$(awk -F': ' '/^number of transactions actually processed/ { split($2, a, "/"); print a[1] }' <<<"$out")"
        [[ -n "$pid" ]] && after="$(cpu_ticks "$pid")"
        if [[ -n "$before" && -n "$after" && "$LAST_TXS" =~ ^[0-9]+$ ]] && ((LAST_TXS > 0)); then
            CPU[$key]="$(awk -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" -v n="$LAST_TXS" \
                'BEGIN { printf "%.2f", t * 1e6 / hz / n }')"
        fi
    fi
    if [[ -z "${TPS[$key]:-}" || -z "${LAT[$key]:-}" || -z "$LAST_TXS" ]]; then
        warn "pgbench through $target failed (mode=$mode clients=$clients):"
        tail -n 20 <<<"$out" >&2
        if [[ "$(target_port "$target")" == "$SOFTDEL_PORT" ]] && ! kill -0 "$SOFTDEL_PID" 2>/dev/null; then
            warn "the softdel process has exited; see softdel.log at the end"
        fi
        TPS[$key]=fail LAT[$key]=fail
        FAILURES=$((FAILURES + 1))
    fi
    return 0
}

# run_matrix MEASURE TARGET...: MEASURE TARGET MODE CLIENTS at every point.
run_matrix() {
    local measure="$1" mode clients t; shift
    for mode in "${MODES[@]}"; do
        for clients in "${CLIENTS[@]}"; do
            # Targets back to back per point, so drift (thermal, noisy
            # neighbours) hits all columns of a row alike.
            for t in "$@"; do
                "$measure" "$t" "$mode" "$clients"
            done
        done
    done
}

# --- report --------------------------------------------------------------

# ratio A B: A/B with RATIO_DECIMALS decimals, "-" if either is not a number.
ratio() {
    awk -v a="$1" -v b="$2" -v d="$RATIO_DECIMALS" \
        'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%." d "f", a / b; else printf "-" }'
}

# at_least, at_most VALUE LIMIT: exit status 0 when VALUE is a number >=, <= LIMIT.
at_least() { awk -v v="$1" -v l="$2" 'BEGIN { exit !(v ~ /^[0-9.]+$/ && v + 0 >= l + 0) }'; }
at_most() { awk -v v="$1" -v l="$2" 'BEGIN { exit !(v ~ /^[0-9.]+$/ && v + 0 <= l + 0) }'; }

# score_points VALUES A B TEST LIMIT: at every point (MODES x CLIENTS), the
# ratio VALUES[point,A] / VALUES[point,B], as "mode/clients ratio", added to
# the caller's array met or missed, as TEST (at_least, at_most) LIMIT says.
score_points() {
    local -n values="$1"
    local a="$2" b="$3" test="$4" limit="$5" mode clients r
    for mode in "${MODES[@]}"; do
        for clients in "${CLIENTS[@]}"; do
            r="$(ratio "${values[$mode,$clients,$a]:-}" "${values[$mode,$clients,$b]:-}")"
            if "$test" "$r" "$limit"; then met+=("$mode/$clients $r"); else missed+=("$mode/$clients $r"); fi
        done
    done
}

# met_missed: "met at every point: ..." or "**not met** (n of N points): ...; met: ..."
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

softdel_rev() { git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown; }

pgbouncer_version() { echo "$("$PGBOUNCER_BIN" --version 2>&1 | head -n 1) (session mode)"; }

# report_heading TITLE: the report's first lines, its title and the machine.
report_heading() {
    local cpu
    cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
    echo "## $1"
    echo
    echo "- machine: nproc=$(nproc), ${cpu:-unknown CPU}, $(uname -sr)"
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
    local mode clients k
    for mode in "${MODES[@]}"; do
        for clients in "${CLIENTS[@]}"; do
            k="$mode,$clients"
            cpu_row "$mode" "$clients" "$(fmt_num "${CPU[$k,softdel]:-}" %.2f)" \
                "$(fmt_num "${CPU[$k,pgbouncer]:-}" %.2f)" "$(ratio "${CPU[$k,softdel]:-}" "${CPU[$k,pgbouncer]:-}")"
        done
    done
}

# report SECTION...: what the SECTION functions print, on stdout and in OUT_FILE.
report() {
    local text section
    text="$(for section in "$@"; do "$section"; done)"
    printf '%s\n' "$text"
    if [[ -n "$OUT_FILE" ]]; then
        printf '%s\n' "$text" >"$OUT_FILE"
        log "report written to $OUT_FILE"
    fi
}
