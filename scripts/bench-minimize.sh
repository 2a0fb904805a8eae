#!/usr/bin/env bash
# How much shorter `charmfuzz minimize` makes a finding than `cargo fuzz tmin`.
#
# Usage: scripts/bench-minimize.sh [--bugs "BUG-1 BUG-2 BUG-3 BUG-4 M1 M2 M3"]
#                                  [--steps N (30)] [--tmin-runs N (64)]
#
# For each planted bug of the demo charms: find it with random stories of N actions
# (`charmfuzz random --only … --artifact`), then shrink that artifact twice, with libFuzzer's
# byte-level `cargo fuzz tmin` and with charmfuzz's step-level `minimize`. Prints the
# steps of the story up to the failing event before and after each, the bytes, the time,
# and whether the finding kept its signature. Needs scripts/setup.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bugs="BUG-1 BUG-2 BUG-3 BUG-4 M1 M2 M3"
steps=30
tmin_runs=64
while [ $# -gt 0 ]; do
    case "$1" in
        --bugs) bugs="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --tmin-runs) tmin_runs="$2"; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-minimize: unknown option $1" >&2; exit 2 ;;
    esac
done

source scripts/lib.sh
source scripts/demo-bugs.sh
cargo build --release -q --bin charmfuzz
cargo fuzz build -s none -O lifecycle
charmfuzz="$PWD/target/release/charmfuzz"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export CHARMFUZZ_MAX_STEPS="$steps" CHARMFUZZ_JUJUC="$charmfuzz"

now() { date +%s%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", (b - a) / 1e9 }'; }
# "steps signature" of an input's finding, or "- none".
finding() { # charm input
    local json
    json="$("$charmfuzz" replay --charm "examples/charms/$1" --json "$2" || true)"
    python3 -c 'import json, sys
r = json.loads(sys.stdin.read())
f = r.get("finding")
print("%d %s" % (f["step"] + 1, f["signature"]) if f else "- none")' <<<"$json"
}

printf '%s\n' "bug steps bytes | tmin: steps bytes s same | charmfuzz: steps bytes s same" >"$work/table"
for bug in $bugs; do
    charm="$(bug_charm "$bug")"
    art="$work/$bug"
    "$charmfuzz" random --charm "examples/charms/$charm" --only "$(bug_pattern "$bug")" \
        --runs 2000 --steps "$steps" --artifact "$art" >"$work/$bug.random" ||
        { cat "$work/$bug.random"; echo "bench-minimize: random stories never found $bug" >&2; exit 1; }
    read -r s0 sig0 <<<"$(finding "$charm" "$art")"

    start=$(now)
    CHARMFUZZ_CHARM="$PWD/examples/charms/$charm" cargo fuzz tmin -s none -O -r "$tmin_runs" \
        lifecycle "$art" >"$work/$bug.tmin.log" 2>&1 || true
    t_secs=$(since "$start")
    small="$(ls -t fuzz/artifacts/lifecycle/minimized-from-* 2>/dev/null | head -1 || true)"
    if [ -n "$small" ]; then
        mv "$small" "$art.tmin"
    else
        cp "$art" "$art.tmin"
    fi
    read -r s1 sig1 <<<"$(finding "$charm" "$art.tmin")"

    start=$(now)
    "$charmfuzz" minimize --charm "examples/charms/$charm" -o "$art.min" "$art" \
        >"$work/$bug.min.log" 2>/dev/null
    c_secs=$(since "$start")
    read -r s2 sig2 <<<"$(finding "$charm" "$art.min")"

    same() { [ "$1" = "$sig0" ] && echo yes || echo NO; }
    echo "$bug $s0 $(stat -c %s "$art") | $s1 $(stat -c %s "$art.tmin") $t_secs $(same "$sig1") | $s2 $(stat -c %s "$art.min") $c_secs $(same "$sig2")" |
        tee -a "$work/table" >&2
done
echo
column -t "$work/table"
python3 - "$work/table" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
# Columns: bug steps bytes | tmin: steps bytes s same | charmfuzz: steps bytes s same.
lost = [r[0] for r in rows if r[7] != "yes"]
if lost:
    print(f"\ncargo fuzz tmin lost the signature (shrank into another finding) on: {' '.join(lost)}")
both = [r for r in rows if r[7] == "yes" and r[12] == "yes" and r[4].isdigit() and r[9].isdigit()]
before, tmin, ours = (sum(int(r[i]) for r in both) for i in (1, 4, 9))
print(f"steps where both kept the signature ({len(both)} bugs): {before} found, "
      f"{tmin} after cargo fuzz tmin, {ours} after charmfuzz minimize")
if ours:
    print(f"tmin/charmfuzz steps: {tmin / ours:.1f}")
EOF
