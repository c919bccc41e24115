#!/usr/bin/env bash
# Installs PostgreSQL when missing, then runs `softdel demo`: a throwaway
# PostgreSQL with the proxy in front of it on 127.0.0.1:6432.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh postgres
# cargo prints one line for the whole build: say beforehand that it is long.
if [ ! -x target/release/softdel ]; then
    echo "scripts/demo.sh: building softdel in release mode first (the first build takes about 4 minutes on 2 CPUs; later runs start at once)" >&2
elif [ -n "$(find src Cargo.toml Cargo.lock rules -newer target/release/softdel -print -quit)" ]; then
    echo "scripts/demo.sh: the sources changed since the last build: rebuilding softdel in release mode first (a few minutes)" >&2
fi
exec cargo run --release --locked -- demo "$@"
