#!/usr/bin/env bash
# The nightly job's promise, checked: given the same budget, scripts/nightly.sh on the demo
# charm with planted bugs exits 1 and leaves a crash store with a folder per signature,
# each with its report, story, trace and ops.testing reproducer; on the clean twin it
# exits 0 and files nothing.
#
# Usage: scripts/check-nightly.sh [--time 5m] [--runs N] [--jobs N (2)] [--no-clean]
#
# --runs N gives each night a budget of N inputs instead (libFuzzer -runs; the time budget
# is then only a backstop of 30 minutes), so a loaded machine runs the same check slower
# rather than a shorter one: scripts/test.sh's fast tier uses it. --no-clean skips the clean
# twin's night (the fast tier's choice: scripts/fuzz-demo.sh already shows the clean twins
# finding nothing under cargo fuzz, and the night's own exit-0 path is the --full tier's).
#
# Both nights start from copies of the demo's seeds, in a temporary directory (the
# project's corpus/ is left alone), and run with --no-setup: run scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

time=5m
runs=
jobs=2
clean=1
while [ $# -gt 0 ]; do
    case "$1" in
        --time) time="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --no-clean) clean=0; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "check-nightly: unknown option $1" >&2; exit 2 ;;
    esac
done
budget=(--time "$time")
[ -z "$runs" ] || budget=(--time 30m --runs "$runs")

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
scripts/make-seeds.sh >/dev/null

night() { # charm -> the job's exit status in $status, its log in $work/<charm>.log
    local charm="$1"
    mkdir -p "$work/$charm/corpus"
    cp "$(seed_dir demo-k8s)"/* "$work/$charm/corpus/"
    status=0
    scripts/nightly.sh --no-setup --charm "examples/charms/$charm" "${budget[@]}" --jobs "$jobs" \
        --corpus "$work/$charm/corpus" --store "$work/$charm/store" \
        >"$work/$charm.log" 2>&1 || status=$?
    sed -n '/== nightly summary/,$p' "$work/$charm.log"
}

night demo-k8s
store="$work/demo-k8s/store"
if [ "$status" != 1 ]; then
    tail -40 "$work/demo-k8s.log"
    echo "FAIL: the night on demo-k8s exited $status, not 1 (new findings)" >&2
    exit 1
fi
signatures=0
for folder in "$store"/*/; do
    signatures=$((signatures + 1))
    for f in report.json story.txt trace.json input test_reproducer.py; do
        [ -s "$folder/$f" ] || { ls -l "$folder"; echo "FAIL: $folder has no $f" >&2; exit 1; }
    done
    echo "  $(basename "$folder"): report, story, trace, input, test_reproducer.py"
done
[ "$signatures" -gt 0 ] || { echo "FAIL: the night exited 1 but the store is empty" >&2; exit 1; }
if [ "$clean" = 0 ]; then
    echo "check-nightly: ok ($signatures signature(s) with reproducers on demo-k8s; the clean twin's night skipped)"
    exit 0
fi

night demo-k8s-clean
if [ "$status" != 0 ] || [ -n "$(ls "$work/demo-k8s-clean/store")" ]; then
    tail -40 "$work/demo-k8s-clean.log"
    echo "FAIL: the night on demo-k8s-clean exited $status, or filed something" >&2
    exit 1
fi
echo "check-nightly: ok ($signatures signature(s) with reproducers on demo-k8s, none on the clean twin)"
