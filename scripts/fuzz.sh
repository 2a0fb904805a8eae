#!/usr/bin/env bash
# Fuzz a charm for a while: `cargo fuzz run lifecycle` with the flags charmfuzz needs.
#
# Usage: scripts/fuzz.sh [--charm DIR] [--time 10m|600|1h] [--jobs N] [--no-setup]
#                        [-- LIBFUZZER_ARGS...]
#
#   --charm DIR   the charm (default: examples/charms/demo-k8s, the demo with planted bugs)
#   --time T      stop after T (seconds, or with an s/m/h suffix; default 10m)
#   --jobs N      N fuzzing processes (libFuzzer -fork=N), each with its own sandbox
#   --no-setup    skip scripts/setup.sh (bubblewrap, the Python venv, cargo-fuzz) and
#                 `charmfuzz setup` (each step is skipped anyway when already done)
#
# A charm from outside this repository with no venv/ of its own gets the Python
# environment its lock or requirements file declares (`charmfuzz setup`, cached), so it
# is fuzzed on the ops it pins; the bundled charms run on the project's environment.
#
# The corpus lives in corpus/lifecycle (the default charm) or corpus/lifecycle-<charm name>,
# seeded from corpus/stories/; crashes go to fuzz/artifacts/lifecycle/. Each finding is
# printed with its story before libFuzzer saves it. The libFuzzer dictionary
# fuzz/<charm>.dict (`charmfuzz dict`) is made on the way.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

charm=examples/charms/demo-k8s
time=10m
jobs=1
setup=1
while [ $# -gt 0 ]; do
    case "$1" in
        --charm) charm="$2"; shift 2 ;;
        --time) time="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --) shift; break ;;
        --no-setup) setup=0; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuzz: unknown option $1" >&2; exit 2 ;;
    esac
done
secs="$(to_seconds "$time")"
[ -d "$charm" ] || { echo "fuzz: no charm directory $charm" >&2; exit 2; }
[ "$setup" = 1 ] && scripts/setup.sh

charm="$(cd "$charm" && pwd)"
name="$(basename "$charm")"
corpus="$(seed_dir "$name")"
mkdir -p "$corpus" fuzz/artifacts/lifecycle

cargo build --release -q --bin charmfuzz
case "$charm" in
    "$PWD"/*) ;;
    *) if [ "$setup" = 1 ] && [ ! -e "$charm/venv/bin/python" ]; then
           target/release/charmfuzz setup --charm "$charm" >/dev/null
       fi ;;
esac
[ -d "corpus/stories/$name" ] && scripts/make-seeds.sh >/dev/null
# A dictionary of the charm's encoded steps, for libFuzzer's own mutations.
dict="fuzz/$name.dict"
target/release/charmfuzz dict --charm "$charm" -o "$dict"
extra=(-dict="$dict")
[ "$jobs" -gt 1 ] && extra+=(-fork="$jobs" -ignore_crashes=1)
CHARMFUZZ_CHARM="$charm" exec cargo fuzz run -s none -O lifecycle "$corpus" -- \
    -max_total_time="$secs" -len_control=0 -max_len=2048 -timeout=600 -rss_limit_mb=4096 \
    -print_final_stats=1 "${extra[@]}" "$@"
