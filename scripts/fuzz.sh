#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [TARGET...]   (default: every target in fuzz/)
#
# Runs each cargo-fuzz target for FUZZ_SECONDS seconds (default 60), one
# after the other (one fuzzing job at a time), and prints per target the
# executions, executions per second, coverage, corpus size and whether it
# crashed. Exits non-zero when any target crashed (a panic, a timeout of
# over FUZZ_TIMEOUT seconds on one input, default 10, or running out of
# memory); the input is then in fuzz/artifacts/TARGET/.
#
# The corpus grows in fuzz/corpus/TARGET/ from one run to the next; only
# the seed-* files there are kept in git. Needs the nightly toolchain
# (rustup); installs cargo-fuzz when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-10}"

die() { printf 'fuzz: error: %s\n' "$*" >&2; exit 2; }

[[ "$FUZZ_SECONDS" =~ ^[1-9][0-9]*$ ]] || die "FUZZ_SECONDS must be a whole number of seconds, not '$FUZZ_SECONDS'"
[[ "$FUZZ_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "FUZZ_TIMEOUT must be a whole number of seconds, not '$FUZZ_TIMEOUT'"

if ! cargo +nightly --version >/dev/null 2>&1; then
    die "the nightly Rust toolchain is needed (libFuzzer's instrumentation is nightly-only):
    rustup toolchain install nightly"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found: installing it (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "building the fuzz targets"
cargo +nightly fuzz build >/dev/null

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

summary=()
crashed=0
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    log="$logs/$target.log"
    echo "fuzzing $target for ${FUZZ_SECONDS}s"
    status=0
    cargo +nightly fuzz run "$target" -- \
        -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" \
        -print_final_stats=1 >"$log" 2>&1 || status=$?

    # libFuzzer's status lines: '#N  DONE  cov: C ft: F corp: U/S ...' at
    # the end of a clean run, '#N  pulse/NEW/REDUCE ...' before; then
    # 'stat::name: value' lines.
    last="$(grep -E '^#[0-9]+[[:space:]]+[A-Z]+[[:space:]]+cov:' "$log" | tail -n 1 || true)"
    stat() { sed -n "s/^stat::$1:[[:space:]]*//p" "$log" | tail -n 1; }
    field() { sed -n "s/.* $1: \\([^ ]*\\).*/\\1/p" <<<"$last"; }
    execs="$(stat number_of_executed_units)"
    rate="$(stat average_exec_per_sec)"
    rss="$(stat peak_rss_mb)"
    cov="$(field cov)"
    corp="$(field corp)"
    files="$(find "fuzz/corpus/$target" -type f | wc -l)"
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"

    if [ "$status" -ne 0 ] || [ -n "$artifact" ]; then
        crashed=1
        result="CRASH (${artifact:-see the log below})"
        echo "---- $target: what went wrong ----"
        # The panic message (up to its backtrace) and libFuzzer's verdict.
        awk '/panicked at/ {p = 1} /^stack backtrace/ {p = 0} p' "$log" | head -n 40
        grep -E 'ERROR: libFuzzer|ALARM|SUMMARY|Test unit written|^error' "$log" | head -n 10 || true
        echo "(reproduce: cargo +nightly fuzz run $target ${artifact:-ARTIFACT})"
        echo "----"
    else
        result="no crash"
    fi
    summary+=("$(printf '%-8s %12s execs  %6s exec/s  cov %-6s corpus %-14s (%s files)  peak RSS %s MB  %s' \
        "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${corp:-?}" "$files" "${rss:-?}" "$result")")
done

echo
echo "fuzzing, ${FUZZ_SECONDS}s per target (corpus: units/size in memory; files in fuzz/corpus):"
printf '%s\n' "${summary[@]}"
exit "$crashed"
