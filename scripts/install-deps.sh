#!/usr/bin/env bash
# Usage: scripts/install-deps.sh [postgres] [pgbouncer] [python] [peer] [node] [promtool] [chromium]   (default: all)
#
# Installs what the softdel test suite needs, when it is missing:
#   - PostgreSQL 15 server binaries (initdb, pg_ctl, postgres) and psql
#   - PgBouncer (the tests run their own; the Debian service is kept stopped)
#   - a Python venv at <repo>/.venv with tests/clients/requirements.txt
#   - psycopg2's own test suite at <repo>/.peer/psycopg2/tests, from the
#     source distribution of the psycopg2-binary version in requirements.txt
#   - node + npm and tests/clients/node/node_modules (npm ci)
#   - promtool (Debian's prometheus package; its service is kept stopped),
#     which checks and tests examples/prometheus/alerts.yml
#   - Chromium and chromedriver (and a font, so screenshots show text), for
#     the tests that drive the admin listener's pages in a headless browser
#
# Meant for a fresh Debian 12 machine in CI (run as root, no stdin), and
# idempotent: a second run changes nothing. It also runs fine as a non-root
# user when everything is already present. Prints one line per item.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLIENTS_DIR="$REPO_ROOT/tests/clients"
NODE_DIR="$CLIENTS_DIR/node"
REQUIREMENTS="$CLIENTS_DIR/requirements.txt"
VENV="$REPO_ROOT/.venv"
VENV_STAMP="$VENV/.softdel-requirements.sha256"
NODE_STAMP="$NODE_DIR/node_modules/.softdel-package-lock.sha256"

export DEBIAN_FRONTEND=noninteractive

log() { printf '%s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

# --- privileged helpers -----------------------------------------------------

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n -E "$@"
    else
        die "need root to run: $* (re-run as root, or install it by hand)"
    fi
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: $*"
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root apt-get update -qq </dev/null >/dev/null \
            || die "apt-get update failed"
        APT_UPDATED=1
    fi
    as_root apt-get install -y -qq --no-install-recommends --no-upgrade \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "$@" </dev/null >/dev/null \
        || die "apt-get install $* failed"
}

hash_of() { sha256sum "$@" | awk '{print $1}' | sha256sum | awk '{print $1}'; }

# --- PostgreSQL ---------------------------------------------------------------

# Prints the directory holding pg_ctl, or nothing.
find_pg_bindir() {
    local p d
    if p="$(command -v pg_ctl 2>/dev/null)" && [ -n "$p" ]; then
        dirname "$(readlink -f "$p")"
        return
    fi
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then
            printf '%s\n' "$d"
            return
        fi
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/pg_ctl" ]; then
            printf '%s\n' "$d"
            return
        fi
    done
}

# Stops any cluster the Debian package created and keeps it from starting at
# boot; the tests start their own throwaway clusters.
quiesce_system_clusters() {
    local conf
    if command -v pg_lsclusters >/dev/null 2>&1; then
        pg_lsclusters -h 2>/dev/null | while read -r ver name _rest; do
            [ -n "$ver" ] || continue
            as_root pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
        done
    fi
    as_root service postgresql stop >/dev/null 2>&1 || true
    for conf in /etc/postgresql/*/*/start.conf; do
        [ -f "$conf" ] || continue
        if grep -qE '^[[:space:]]*auto' "$conf"; then
            as_root sed -i -E 's/^[[:space:]]*auto[[:space:]]*$/manual/' "$conf" || true
        fi
    done
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        as_root systemctl disable --now postgresql >/dev/null 2>&1 || true
    fi
}

ensure_postgres() {
    local bindir
    bindir="$(find_pg_bindir)"
    if [ -n "$bindir" ]; then
        if [ -x "$bindir/psql" ] || command -v psql >/dev/null 2>&1; then
            log "postgresql: already present ($bindir)"
        else
            apt_install postgresql-client-15
            log "postgresql: psql installed (server already present in $bindir)"
        fi
        return
    fi

    # Ask postgresql-common not to create (and start) a "main" cluster at all.
    # The default createcluster.conf includes this directory.
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    printf '# written by softdel scripts/install-deps.sh: tests use their own clusters\ncreate_main_cluster = false\n' \
        | as_root tee /etc/postgresql-common/createcluster.d/softdel-no-main-cluster.conf >/dev/null

    apt_install postgresql-15 postgresql-client-15
    quiesce_system_clusters

    bindir="$(find_pg_bindir)"
    [ -n "$bindir" ] || die "postgresql-15 installed, but pg_ctl still not found"
    log "postgresql: installed ($bindir)"
}

# --- PgBouncer ----------------------------------------------------------------

# Prints the pgbouncer binary, or nothing.
find_pgbouncer() {
    local p
    if p="$(command -v pgbouncer 2>/dev/null)" && [ -n "$p" ]; then
        printf '%s\n' "$p"
    elif [ -x /usr/sbin/pgbouncer ]; then
        printf '%s\n' /usr/sbin/pgbouncer
    fi
}

# True when as_root would work without dying.
can_be_root() {
    [ "$(id -u)" -eq 0 ] \
        || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

# True when the Debian package's pgbouncer service is running.
system_pgbouncer_running() {
    local pid
    pid="$(cat /run/postgresql/pgbouncer.pid 2>/dev/null || true)"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# The Debian package starts a pgbouncer service on port 6432 (softdel's demo
# port): stop it and keep it from starting at boot; the tests start their own.
quiesce_system_pgbouncer() {
    local pid
    as_root service pgbouncer stop >/dev/null 2>&1 || true
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        as_root systemctl disable --now pgbouncer.service pgbouncer.socket >/dev/null 2>&1 || true
    fi
    # The init script (used without systemd) starts nothing with START=0.
    if [ -x /etc/init.d/pgbouncer ] && ! grep -qE '^[[:space:]]*START=0[[:space:]]*$' /etc/default/pgbouncer 2>/dev/null; then
        if [ -f /etc/default/pgbouncer ] && grep -qE '^[[:space:]]*START=' /etc/default/pgbouncer; then
            as_root sed -i -E 's/^[[:space:]]*START=.*/START=0/' /etc/default/pgbouncer || true
        else
            printf '\n# written by softdel scripts/install-deps.sh: tests run their own pgbouncer\nSTART=0\n' \
                | as_root tee -a /etc/default/pgbouncer >/dev/null || true
        fi
    fi
    # Whatever started it, stop it by its pid file.
    if system_pgbouncer_running; then
        pid="$(cat /run/postgresql/pgbouncer.pid)"
        as_root kill "$pid" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
    fi
}

ensure_pgbouncer() {
    local bin
    bin="$(find_pgbouncer)"
    if [ -n "$bin" ]; then
        if system_pgbouncer_running; then
            if can_be_root; then
                quiesce_system_pgbouncer
                log "pgbouncer: already present ($bin; stopped the system service on port 6432)"
            else
                log "pgbouncer: already present ($bin; warning: the system service is running, stop it as root)"
            fi
        else
            log "pgbouncer: already present ($bin)"
        fi
        return
    fi

    apt_install pgbouncer
    quiesce_system_pgbouncer

    bin="$(find_pgbouncer)"
    [ -n "$bin" ] || die "pgbouncer installed, but still not found on PATH or in /usr/sbin"
    log "pgbouncer: installed ($bin, $("$bin" --version 2>/dev/null | head -n 1 || echo '?'))"
}

# --- Python -------------------------------------------------------------------

# The interpreter for the venv: Debian's own python3 when there is one (its
# path is readable by every user, unlike e.g. a pyenv under /root), else
# whatever python3 is on PATH.
pick_python() {
    if [ -x /usr/bin/python3 ]; then
        echo /usr/bin/python3
    else
        command -v python3 2>/dev/null || true
    fi
}

venv_works() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1 \
        && "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}

ensure_python() {
    local want have="" created=0
    [ -f "$REQUIREMENTS" ] || die "missing $REQUIREMENTS"
    want="$(hash_of "$REQUIREMENTS")"

    if ! venv_works; then
        if [ -e "$VENV" ] && { [ ! -w "$VENV" ] || [ ! -w "$(dirname "$VENV")" ]; }; then
            die "$VENV exists but is unusable, and $(id -un) cannot replace it"
        fi
        local py
        py="$(pick_python)"
        if [ -z "$py" ]; then
            apt_install python3 python3-venv
            py="$(pick_python)"
            [ -n "$py" ] || die "python3 still not found after installing it"
        fi
        rm -rf "$VENV"
        if ! "$py" -m venv "$VENV" >/dev/null 2>&1; then
            # Debian's python3 ships without ensurepip unless python3-venv is in.
            rm -rf "$VENV"
            apt_install python3-venv
            "$py" -m venv "$VENV" || die "$py -m venv $VENV failed"
        fi
        created=1
    fi

    [ -f "$VENV_STAMP" ] && have="$(cat "$VENV_STAMP")"
    if [ "$created" -eq 0 ] && [ "$have" = "$want" ] \
        && "$VENV/bin/python" -c 'import psycopg' >/dev/null 2>&1; then
        log "python venv: already present ($VENV, $(psycopg_version))"
        return
    fi

    rm -f "$VENV_STAMP"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input -r "$REQUIREMENTS" </dev/null \
        || die "pip install -r $REQUIREMENTS failed"
    printf '%s\n' "$want" >"$VENV_STAMP"
    log "python venv: installed ($VENV, $(psycopg_version))"
}

psycopg_version() {
    "$VENV/bin/python" -c 'import psycopg; print("psycopg " + psycopg.__version__)' 2>/dev/null \
        || echo "psycopg ?"
}

# --- psycopg2's own test suite ---------------------------------------------------

# The suite ships only in the sdist; the wheel installed in the venv is
# what it tests. Both at the version requirements.txt pins.
ensure_peer() {
    local version dir="$REPO_ROOT/.peer/psycopg2" tmp
    version="$(sed -n 's/^psycopg2-binary==\([0-9.]*\)$/\1/p' "$REQUIREMENTS")"
    [ -n "$version" ] || die "no psycopg2-binary==VERSION line in $REQUIREMENTS"
    if [ "$(cat "$dir/.version" 2>/dev/null)" = "$version" ] \
        && [ -f "$dir/tests/__init__.py" ]; then
        log "psycopg2 test suite: already present ($dir, $version)"
        return
    fi
    tmp="$(mktemp -d)"
    "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-input \
        --no-deps --no-binary :all: --dest "$tmp" "psycopg2==$version" </dev/null >/dev/null \
        || { rm -rf "$tmp"; die "pip download psycopg2==$version (its sdist) failed"; }
    rm -rf "$dir"
    mkdir -p "$dir"
    tar -xzf "$tmp/psycopg2-$version.tar.gz" -C "$dir" --strip-components=1 \
        "psycopg2-$version/tests" \
        || { rm -rf "$tmp"; die "psycopg2-$version.tar.gz has no tests/"; }
    rm -rf "$tmp"
    printf '%s\n' "$version" >"$dir/.version"
    log "psycopg2 test suite: installed ($dir, $version)"
}

# --- Node -----------------------------------------------------------------------

ensure_node() {
    local want have="" installed_tools=0
    [ -f "$NODE_DIR/package-lock.json" ] || die "missing $NODE_DIR/package-lock.json"

    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        local pkgs=()
        command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
        command -v npm >/dev/null 2>&1 || pkgs+=(npm)
        apt_install "${pkgs[@]}"
        command -v node >/dev/null 2>&1 || die "node still not found after installing nodejs"
        command -v npm >/dev/null 2>&1 || die "npm still not found after installing npm"
        installed_tools=1
    fi
    if [ "$installed_tools" -eq 1 ]; then
        log "node: installed ($(node --version))"
    else
        log "node: already present ($(node --version))"
    fi

    want="$(hash_of "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json")"
    [ -f "$NODE_STAMP" ] && have="$(cat "$NODE_STAMP")"
    if [ "$have" = "$want" ] && [ -f "$NODE_DIR/node_modules/pg/package.json" ]; then
        log "node_modules: already present ($NODE_DIR/node_modules, pg $(pg_version))"
        return
    fi

    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error </dev/null >/dev/null) \
        || die "npm ci in $NODE_DIR failed"
    printf '%s\n' "$want" >"$NODE_STAMP"
    log "node_modules: installed ($NODE_DIR/node_modules, pg $(pg_version))"
}

pg_version() {
    node -p 'require(process.argv[1]).version' "$NODE_DIR/node_modules/pg/package.json" 2>/dev/null \
        || echo "?"
}

# promtool comes with the Prometheus server, whose package starts a
# service on port 9090: the tests need only the tool.
ensure_promtool() {
    if command -v promtool >/dev/null 2>&1; then
        log "promtool: already present ($(command -v promtool))"
        return
    fi
    apt_install prometheus
    as_root service prometheus stop >/dev/null 2>&1 || true
    if command -v systemctl >/dev/null 2>&1; then
        as_root systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
    command -v promtool >/dev/null 2>&1 || die "promtool is missing after installing prometheus"
    log "promtool: installed ($(command -v promtool); the prometheus service is stopped)"
}

# --- Chromium -------------------------------------------------------------------

# Debian's chromium-driver puts chromedriver in /usr/bin next to the
# browser; it is the only driver the tests start. Without a font the
# pages' text would be blank in screenshots.
ensure_chromium() {
    local pkgs=()
    [ -x /usr/bin/chromium ] || pkgs+=(chromium)
    [ -x /usr/bin/chromedriver ] || pkgs+=(chromium-driver)
    [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || pkgs+=(fonts-dejavu-core)
    if [ "${#pkgs[@]}" -eq 0 ]; then
        log "chromium: already present ($(chromium_version))"
        return
    fi
    apt_install "${pkgs[@]}"
    [ -x /usr/bin/chromium ] || die "/usr/bin/chromium is missing after installing chromium"
    [ -x /usr/bin/chromedriver ] || die "/usr/bin/chromedriver is missing after installing chromium-driver"
    log "chromium: installed (${pkgs[*]}; $(chromium_version))"
}

# chromedriver's version, which Debian keeps equal to the browser's.
chromium_version() {
    /usr/bin/chromedriver --version 2>/dev/null | awk 'NR == 1 {print $1, $2}' || echo "chromedriver ?"
}

# With no arguments, everything; otherwise only the parts named.
parts=("$@")
[ "${#parts[@]}" -gt 0 ] || parts=(postgres pgbouncer python peer node promtool chromium)
for part in "${parts[@]}"; do
    case "$part" in
        postgres) ensure_postgres ;;
        pgbouncer) ensure_pgbouncer ;;
        python) ensure_python ;;
        peer) ensure_peer ;;
        node) ensure_node ;;
        promtool) ensure_promtool ;;
        chromium) ensure_chromium ;;
        *) die "unknown part '$part' (expected: postgres, pgbouncer, python, peer, node, promtool, chromium)" ;;
    esac
done
