#!/usr/bin/env bash
# Helpers shared by the benchmark scripts (sourced, not run). They expect
# POSTGRES_BINDIR, DB_USER, REPO_ROOT, WORK, SOFTDEL_BIN and USED_PORTS.

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
