#!/usr/bin/env bash
# The nightly fuzzing job: fuzz a charm for a time budget on every core, merge the corpus,
# file every finding in the crash store, and fail when something new turned up.
#
# Usage: scripts/nightly.sh [--charm DIR] [--time 1h] [--runs N] [--jobs N] [--corpus DIR]
#                           [--store DIR] [--max-steps N] [--no-setup]
#
#   --charm DIR      the charm (default: examples/charms/demo-k8s, the demo with planted bugs)
#   --time T         the fuzzing budget (seconds, or with an s/m/h suffix; default 1h)
#   --runs N         also stop after N inputs in all (libFuzzer -runs, counted as the jobs
#                    end): a budget that a busy machine makes slower, not smaller
#   --jobs N         fuzzing processes (libFuzzer -fork=N; default: one per core)
#   --corpus DIR     the corpus to restore and grow (default: corpus/lifecycle[-<charm>]);
#                    a CI job caches this directory between nights
#   --store DIR      the crash store (default: crashes/<charm>)
#   --max-steps N    actions a story may grow to, 1 to 64 (CHARMFUZZ_MAX_STEPS; default 64);
#                    the findings replay with no such flag
#   --no-setup       skip scripts/setup.sh (bubblewrap, the Python venv, cargo-fuzz)
#
# Steps: set up; seed from corpus/stories/<charm>/ if there are stories (read alongside the
# corpus, which is where new inputs go); fuzz
# with -fork=N -ignore_crashes=1 (a finding does not stop the night); merge the corpus with
# `cargo fuzz cmin`; `charmfuzz triage` every crash artifact into the store (minimised, one
# folder per signature). Ends with a summary. Exit status: 1 when the store got a signature
# it did not have before the night, 0 when not, 2 when the job itself failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

charm=examples/charms/demo-k8s
time=1h
runs=-1
jobs="$(nproc)"
corpus=
store=
max_steps="${CHARMFUZZ_MAX_STEPS:-64}"
setup=1
while [ $# -gt 0 ]; do
    case "$1" in
        --charm) charm="$2"; shift 2 ;;
        --time) time="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --corpus) corpus="$2"; shift 2 ;;
        --store) store="$2"; shift 2 ;;
        --max-steps) max_steps="$2"; shift 2 ;;
        --no-setup) setup=0; shift ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "nightly: unknown option $1" >&2; exit 2 ;;
    esac
done
# Anything that fails from here on is the job's failure, not a finding.
trap 'echo "nightly: the job failed (line $LINENO)" >&2; exit 2' ERR
secs="$(to_seconds "$time")"
[ -d "$charm" ] || { echo "nightly: no charm directory $charm" >&2; exit 2; }
charm="$(cd "$charm" && pwd)"
name="$(basename "$charm")"
# The project's seeds for this charm (made from corpus/stories/<charm>/ below).
seeds="$(seed_dir "$name")"
corpus="${corpus:-$seeds}"
store="${store:-crashes/$name}"
mkdir -p "$corpus" "$store"
corpus="$(cd "$corpus" && pwd)"
store="$(cd "$store" && pwd)"

[ "$setup" = 1 ] && scripts/setup.sh
cargo build --release -q --bin charmfuzz
cargo fuzz build -s none -O lifecycle
charmfuzz="$PWD/target/release/charmfuzz"
[ -d "corpus/stories/$name" ] && scripts/make-seeds.sh >/dev/null
# libFuzzer reads every corpus directory given and writes new inputs into the first.
inputs=("$corpus")
[ -d "$seeds" ] && [ "$(cd "$seeds" && pwd)" != "$corpus" ] && inputs+=("$PWD/$seeds")

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
artifacts="$work/artifacts"
mkdir -p "$artifacts"
known_before="$(ls "$store" | wc -l)"
corpus_before="$(ls "$corpus" | wc -l)"
export CHARMFUZZ_CHARM="$charm" CHARMFUZZ_MAX_STEPS="$max_steps"

echo "== nightly: fuzzing $name for ${secs}s with $jobs process(es); corpus $corpus ($corpus_before inputs)"
status=0
cargo fuzz run -s none -O lifecycle "${inputs[@]}" -- -fork="$jobs" -ignore_crashes=1 \
    -max_total_time="$secs" -runs="$runs" -len_control=0 -max_len=2048 -timeout=600 -rss_limit_mb=4096 \
    -artifact_prefix="$artifacts/" >"$work/fuzz.log" 2>&1 || status=$?
if grep -q 'harness error' "$work/fuzz.log"; then
    grep -m3 'harness error' "$work/fuzz.log" >&2
    echo "nightly: charmfuzz could not run the charm (see above)" >&2
    exit 2
fi
last="$(grep 'oom/timeout/crash: ' "$work/fuzz.log" | tail -1 || true)"
echo "fuzzing: exit $status; ${last:-no status line}"

echo "== nightly: merging the corpus"
cargo fuzz cmin -s none -O lifecycle "$corpus" >"$work/cmin.log" 2>&1 ||
    { tail -20 "$work/cmin.log" >&2; echo "nightly: cmin failed" >&2; exit 2; }
corpus_after="$(ls "$corpus" | wc -l)"

crashes=("$artifacts"/crash-* "$artifacts"/timeout-*)
found=()
for c in "${crashes[@]}"; do [ -e "$c" ] && found+=("$c"); done
new=0
if [ "${#found[@]}" -gt 0 ]; then
    echo "== nightly: triaging ${#found[@]} artifact(s) into $store"
    triage=0
    "$charmfuzz" triage --charm "$charm" --store "$store" "${found[@]}" \
        >"$work/triage.log" || triage=$?
    cat "$work/triage.log"
    case "$triage" in
        0) ;;
        1) new=1 ;;
        *) echo "nightly: triage failed" >&2; exit 2 ;;
    esac
fi

echo
echo "== nightly summary: $name"
echo "budget:    ${secs}s$([ "$runs" -lt 0 ] || echo " or $runs runs"), $jobs process(es)"
echo "corpus:    $corpus_before -> $corpus_after inputs ($corpus)"
echo "artifacts: ${#found[@]}"
echo "store:     $known_before -> $(ls "$store" | wc -l) signature(s) ($store)"
if [ "${#found[@]}" -gt 0 ]; then
    grep -E ': (NEW|known)' "$work/triage.log" | sed 's/^.*: \(NEW\|known[^:]*\): /\1: /' |
        sort | uniq -c | sed 's/^ */  /' || true
fi
if [ "$new" = 1 ]; then
    echo "result:    NEW findings (exit 1)"
    exit 1
fi
echo "result:    nothing new"
