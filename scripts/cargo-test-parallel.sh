#!/usr/bin/env bash
# `cargo test --release`, with the test binaries run side by side.
#
# Usage: scripts/cargo-test-parallel.sh [--jobs N (cores + 1)]
#
# cargo test runs one test binary at a time. Most of charmfuzz's tests wait on charm
# processes (a Python worker starting, hooks running in a sandbox, pip building a venv),
# so one binary keeps about a third of a 2-core machine busy, and three at once take about
# half the time. Each binary still runs its own tests on its own threads, in its package's
# directory, as cargo runs it; the slowest start first. The binaries whose tests time
# hooks that hang, kill their worker or exhaust a limit (target_faults) run alone after the
# others, so that a loaded machine cannot make a slow hook look like a fault. A failing
# binary's output is printed whole; the others give their `test result` line. Doctests
# run last, through cargo. Environment variables reach the tests as with cargo test
# (CHARMFUZZ_VENV, CHARMFUZZ_MODE_TRACES).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs=$(($(nproc) + 1))
while [ $# -gt 0 ]; do
    case "$1" in
        --jobs) jobs="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "cargo-test-parallel: unknown option $1" >&2; exit 2 ;;
    esac
done

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# Build every test binary (compiler messages as cargo prints them), and list each with its
# package's directory: NUL-separated pairs, the slow binaries first.
cargo test --release --no-run --message-format=json-render-diagnostics >"$logs/build.json"
python3 - "$logs/build.json" "$logs/alone" >"$logs/binaries" <<'PY'
import json, os, sys
# Seconds each took on a 2-core machine (scripts/test.sh's fast tier); the rest are quick.
slow = {"target_modes": 40, "setup": 51, "target_faults": 50, "finding_class": 26,
        "charmfuzz": 25, "triage": 19, "target_coverage": 19, "cli": 12,
        "prefix_cache": 60}
# Tests that time hooks: each runs with the machine to itself.
alone = {"target_faults"}
runs = []
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        name = m["target"]["name"].replace("-", "_")
        runs.append((slow.get(name, 0), os.path.dirname(m["manifest_path"]), m["executable"]))
with open(sys.argv[2], "w") as later:
    for _, d, exe in sorted(runs, key=lambda r: -r[0]):
        name = os.path.basename(exe).rsplit("-", 1)[0]
        (later if name in alone else sys.stdout).write(f"{d}\0{exe}\0")
PY

export LOGS="$logs"
run_one='
    dir="$0" exe="$1" name="$(basename "$1")" start=$SECONDS status=0
    (cd "$dir" && "$exe") >"$LOGS/$name.log" 2>&1 || status=$?
    echo "$status $((SECONDS - start)) $name" >>"$LOGS/status"
'
xargs -0 -n 2 -P "$jobs" bash -c "$run_one" <"$logs/binaries"
xargs -0 -n 2 -P 1 bash -c "$run_one" <"$logs/alone"

failed=0
while read -r status secs name; do
    result="$(grep -m1 '^test result:' "$logs/$name.log" || echo 'no test result')"
    if [ "$status" = 0 ]; then
        printf '%-40s %4d s  %s\n' "$name" "$secs" "$result"
    else
        failed=1
        echo "==== $name FAILED (exit $status, $secs s):"
        cat "$logs/$name.log"
    fi
done < <(sort -k3 "$logs/status")
cargo test --release --doc -q
if [ "$failed" = 1 ]; then
    echo "cargo-test-parallel: a test binary failed (its output is above)" >&2
    exit 1
fi
