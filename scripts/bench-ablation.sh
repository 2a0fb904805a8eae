#!/usr/bin/env bash
# The ablation benchmark: what coverage feedback and the structure-aware mutator each buy.
#
# Usage: scripts/bench-ablation.sh [--bugs "BUG-2 BUG-4"] [--seeds N (3)] [--runs N (1000)]
#                                  [--steps N (16)] [--arms "guided bytes random"]
#                                  [--jobs N (1)] [--empty] [--no-cost]
#
# Three arms, side by side on this machine, with the same budget of runs per attempt:
#   guided  cargo fuzz's libFuzzer, the charm's coverage as feedback, structure mutator
#   bytes   the same feedback, libFuzzer's byte mutation only (CHARMFUZZ_MUTATOR=bytes)
#   random  no feedback: `charmfuzz random`, the same decoder on random bytes
# Each arm hunts one planted bug at a time (CHARMFUZZ_ONLY / --only: other findings do not
# stop it), once per seed. The libFuzzer arms start from the charm's seed corpus (the
# happy-path stories of corpus/stories/, as `scripts/fuzz.sh` does; --empty starts them
# from nothing); the random arm has no corpus by its nature. It prints, per bug and arm, how many
# attempts found it and the median runs and seconds, then the ratios to the guided arm
# (">" when the other arm missed within the budget: the budget is the bound).
# Before that it prices coverage collection: events per second of random stories on the
# clean demo charm with and without the charm's coverage measured (--no-cost skips it).
# --arms runs some arms only (the table then has no ratio to a missing guided arm).
# --jobs N runs N attempts at once, one core each: a deep bug's hunt takes an hour or more per
# attempt at a few runs per second. The runs are then the figure to compare; the seconds
# include the contention of the other attempts (all arms share it alike).
#
# Bugs: BUG-1..4 (examples/charms/demo-k8s), M1..M3 (examples/charms/demo-machine).
# Default: the deepest of each charm, BUG-4 and M2. Needs scripts/setup.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bugs="BUG-4 M2"
seeds=3
runs=1000
steps=16
cost=1
empty=0
arms="guided bytes random"
jobs=1
while [ $# -gt 0 ]; do
    case "$1" in
        --bugs) bugs="$2"; shift 2 ;;
        --seeds) seeds="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --arms) arms="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --no-cost) cost=0; shift ;;
        --empty) empty=1; shift ;;
        -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-ablation: unknown option $1" >&2; exit 2 ;;
    esac
done

source scripts/lib.sh
source scripts/demo-bugs.sh
for b in $bugs; do bug_pattern "$b" >/dev/null || exit 2; done
for a in $arms; do
    case "$a" in guided|bytes|random) ;; *) echo "bench-ablation: unknown arm $a" >&2; exit 2 ;; esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-ablation: --jobs takes a number" >&2; exit 2; }

cargo build --release -q --bin charmfuzz
cargo fuzz build -s none -O lifecycle
[ "$empty" = 1 ] || scripts/make-seeds.sh >/dev/null
charmfuzz="$PWD/target/release/charmfuzz"
fuzzer="$PWD/fuzz/target/x86_64-unknown-linux-gnu/release/lifecycle"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
results="$work/results.tsv"
export CHARMFUZZ_JUJUC="$charmfuzz"

if [ "$cost" = 1 ]; then
    echo "== coverage cost: random stories on demo-k8s-clean, with and without coverage"
    for arm in off on; do
        flag=(); [ "$arm" = on ] && flag=(--coverage)
        "$charmfuzz" random --charm examples/charms/demo-k8s-clean --all --runs 60 \
            --steps "$steps" "${flag[@]}" | grep '^result:' | sed "s/^/coverage $arm /" \
            >>"$work/cost"
    done
fi

libfuzzer() { # arm bug seed -> "found runs seconds"
    local arm="$1" bug="$2" seed="$3" dir="$work/$1-$2-$3" status=0
    mkdir -p "$dir/corpus"
    if [ "$empty" = 0 ]; then
        cp "$(seed_dir "$(bug_charm "$bug")")"/* "$dir/corpus/"
    fi
    local start; start=$(date +%s%N)
    CHARMFUZZ_CHARM="$PWD/examples/charms/$(bug_charm "$bug")" CHARMFUZZ_MAX_STEPS="$steps" \
        CHARMFUZZ_ONLY="$(bug_pattern "$bug")" \
        CHARMFUZZ_MUTATOR="$([ "$arm" = bytes ] && echo bytes || echo structure)" \
        "$fuzzer" "$dir/corpus" -runs="$runs" -seed="$seed" -len_control=0 -max_len=2048 \
        -timeout=600 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$dir/" \
        >"$dir/log" 2>&1 || status=$?
    local secs; secs=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
    local n; n="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$' || echo "$runs")"
    if grep -q '==== charmfuzz finding ====' "$dir/log"; then
        echo "yes $n $secs"
    elif [ "$status" = 0 ]; then
        echo "no $n $secs"
    else
        tail -20 "$dir/log" >&2; echo "bench-ablation: the fuzzer failed (exit $status)" >&2; exit 1
    fi
}

random() { # bug seed -> "found runs seconds"
    local out status=0
    out="$("$charmfuzz" random --charm "examples/charms/$(bug_charm "$1")" --runs "$runs" \
        --steps "$steps" --seed "$(($2 * 1000003))" --only "$(bug_pattern "$1")")" || status=$?
    [ "$status" -le 1 ] || { echo "$out" >&2; exit 1; }
    echo "$out" | sed -n 's/^result: runs=\([0-9]*\) events=[0-9]* seconds=\([0-9.]*\) found=\(yes\|no\)$/\3 \1 \2/p'
}

attempt() { # bug seed arm: one hunt, its line in results.tsv written at once
    local r
    if [ "$3" = random ]; then r="$(random "$1" "$2")"; else r="$(libfuzzer "$3" "$1" "$2")"; fi
    [ -n "$r" ] || { echo "bench-ablation: $1 seed $2 $3 gave no result" >&2; return 1; }
    echo "$1 seed $2 $3: $r" >&2
    printf '%s\t%s\t%s\t%s\n' "$1" "$3" "$2" "$r" | tr ' ' '\t' >>"$results"
}
running=0
for bug in $bugs; do
    for seed in $(seq 1 "$seeds"); do
        for arm in $arms; do
            if [ "$jobs" = 1 ]; then attempt "$bug" "$seed" "$arm"; continue; fi
            if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
            attempt "$bug" "$seed" "$arm" &
            running=$((running + 1))
        done
    done
done
# Any attempt that failed fails the benchmark (wait -n above returns its status too).
while [ "$running" -gt 0 ]; do wait -n; running=$((running - 1)); done

python3 - "$results" "$runs" "$work/cost" <<'EOF'
import os, statistics, sys
from collections import defaultdict

path, budget, cost = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if os.path.exists(cost):
    figures = {}
    for line in open(cost):
        words = line.split()
        kv = dict(w.split('=') for w in words[3:])
        figures[words[1]] = int(kv['events']) / float(kv['seconds'])
    off, on = figures['off'], figures['on']
    print(f"\ncoverage cost: {off:.1f} events/s without, {on:.1f} with "
          f"({on / off:.2f}x the speed, {100 * (1 - on / off):.0f}% slower)")
cells = defaultdict(list)
for line in open(path):
    bug, arm, seed, found, runs, secs = line.split()
    cells[bug, arm].append((found == 'yes', int(runs), float(secs)))
print(f"\nbudget: {budget} runs per attempt\n")
print(f"{'bug':<6} {'arm':<7} {'found':>6} {'median runs':>12} {'median s':>9}   ratio to guided (s)")
for bug in dict.fromkeys(b for b, _ in cells):
    medians = {}
    for arm in ('guided', 'bytes', 'random'):
        tries = cells[bug, arm]
        if not tries:
            continue
        found = sum(f for f, _, _ in tries)
        # A miss counts as the whole budget spent: the median is then a lower bound.
        runs = statistics.median(r for _, r, _ in tries)
        secs = statistics.median(s for _, _, s in tries)
        bound = '>' if found * 2 <= len(tries) else ''
        medians[arm] = (bound, secs)
        ratio = ''
        if arm != 'guided' and 'guided' in medians:
            g_bound, g = medians['guided']
            if g_bound:
                ratio = 'n/a: the guided arm missed'
            elif g > 0:
                ratio = f"{bound}{secs / g:.1f}x"
                if not bound and secs < g:
                    ratio += f' (this arm is {g / secs:.1f}x faster)'
        print(f"{bug:<6} {arm:<7} {found:>3}/{len(tries):<2} {bound + str(int(runs)):>12} "
              f"{bound + format(secs, '.1f'):>9}   {ratio}")
EOF
