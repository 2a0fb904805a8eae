#!/usr/bin/env bash
# Show that `cargo fuzz run lifecycle` finds the planted bugs of the demo charms, and
# nothing in their clean twins, within a bounded number of runs.
#
# Usage: scripts/fuzz-demo.sh [--runs N] [--charms "demo-k8s demo-machine"]
#
# For each buggy demo charm: fuzz from its seeds until the first finding or N runs; the
# run must end with a charmfuzz finding (and a crash artifact). For each clean twin: the
# same budget must end without one. Builds the fuzz target on stable (`-s none`); needs
# cargo-fuzz and the Python venv (scripts/setup.sh installs both).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=100
charms="demo-k8s demo-machine"
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --charms) charms="$2"; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuzz-demo: unknown option $1" >&2; exit 2 ;;
    esac
done

cargo build --release -q --bin charmfuzz
cargo fuzz build -s none -O lifecycle
scripts/make-seeds.sh >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# libFuzzer: whole stories (no length ramp), room for long ones, one input may take a while.
flags=(-runs="$runs" -seed=1 -len_control=0 -max_len=2048 -timeout=600 -rss_limit_mb=4096
       -print_final_stats=1)

fuzz() { # charm expect(finding|clean)
    local charm="$1" expect="$2" seeds="corpus/lifecycle-$1"
    case "$charm" in demo-k8s|demo-k8s-clean) seeds=corpus/lifecycle ;; demo-machine-clean) seeds=corpus/lifecycle-demo-machine ;; esac
    mkdir -p "$work/$charm/corpus" "$work/$charm/artifacts"
    cp "$seeds"/* "$work/$charm/corpus/"
    local log="$work/$charm/log" start=$SECONDS status=0
    CHARMFUZZ_CHARM="$PWD/examples/charms/$charm" CHARMFUZZ_MAX_STEPS=12 \
        cargo fuzz run -s none -O lifecycle "$work/$charm/corpus" -- "${flags[@]}" \
        -artifact_prefix="$work/$charm/artifacts/" >"$log" 2>&1 || status=$?
    local took=$((SECONDS - start))
    local execs; execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)"
    if grep -q '==== charmfuzz finding ====' "$log"; then
        local title; title="$(grep -m1 '^title: ' "$log" | cut -c8-)"
        echo "$charm: finding after ${execs:-?} runs, ${took}s: $title"
        [ "$expect" = finding ] || { tail -60 "$log"; echo "FAIL: $charm is clean but charmfuzz reported a finding" >&2; return 1; }
        ls "$work/$charm/artifacts/"crash-* >/dev/null || { echo "FAIL: no crash artifact for $charm" >&2; return 1; }
    else
        echo "$charm: no finding in ${execs:-?} runs, ${took}s (exit $status)"
        if [ "$expect" = finding ] || [ "$status" != 0 ]; then
            tail -40 "$log"; echo "FAIL: $charm: expected $expect" >&2; return 1
        fi
    fi
}

for c in $charms; do
    fuzz "$c" finding
    fuzz "$c-clean" clean
done
echo "fuzz-demo: ok"
