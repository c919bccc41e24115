#!/usr/bin/env bash
# Runs every softdel check: the container files' linters, formatting, lints,
# that the fuzz targets build, unit and integration tests
# (against throwaway PostgreSQL clusters, with psql, psycopg 3 and
# node-postgres). Installs whatever is missing first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
bash scripts/lint-container.sh
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
# The fuzz targets build against the library's types: a change to them
# must not leave the targets broken until the next fuzzing run.
(cd fuzz && cargo check --locked --bins)
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --no-fail-fast
else
    echo "cargo-nextest not found: running cargo test"
    cargo test --locked --no-fail-fast
fi
