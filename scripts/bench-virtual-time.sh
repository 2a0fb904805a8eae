#!/usr/bin/env bash
# Benchmark (not a timed test) of virtual time: does a charm that waits cost what one that
# does not? The fixture tests/fixtures/charms/waits polls its absent workload API five
# times with time.sleep(3) in every pebble-ready. Three copies of it run the same random
# stories (`charmfuzz random --all`, same seeds), pinned to one core:
#   waiting, virtual time   the fixture as it is
#   no waiting              its twin with the polling switched off (a `no-wait` file)
#   waiting, real time      [target] virtual-time = false (a 20 s hook timeout)
# and the events per second of each are printed side by side, with the ratio of the first
# two (the aim: 1.0, waiting costs nothing).
#
# Usage: scripts/bench-virtual-time.sh [--runs N (20)] [--steps N (10)] [--cpu N (0)]
#                                      [--skip-real]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=20
steps=10
cpu=0
real=1
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --cpu) cpu="$2"; shift 2 ;;
        --skip-real) real=0; shift ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-virtual-time: unknown argument $1" >&2; exit 2 ;;
    esac
done
cargo build --release -q --bin charmfuzz
bin="$PWD/target/release/charmfuzz"
work="$(mktemp -d /tmp/charmfuzz-bench-vt.XXXXXX)"
trap 'rm -rf "$work"' EXIT
for arm in virtual nowait real; do
    cp -r tests/fixtures/charms/waits "$work/$arm"
done
touch "$work/nowait/no-wait"
printf '[target]\nvirtual-time = false\ntimeout = 20.0\n' > "$work/real/charmfuzz.toml"

# events/s of one arm: events over the seconds `random` reports.
rate() {
    local out
    out="$(taskset -c "$cpu" "$bin" random --charm "$work/$1" --runs "$runs" --steps "$steps" \
        --all 2>/dev/null | grep '^result:' | tail -1)"
    local events seconds
    events="$(sed -n 's/.* events=\([0-9]*\).*/\1/p' <<<"$out")"
    seconds="$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' <<<"$out")"
    [ -n "$events" ] && [ -n "$seconds" ] ||
        { echo "bench-virtual-time: no result line from arm $1: $out" >&2; exit 1; }
    echo "$events $seconds"
}
read -r ev_v s_v < <(rate virtual)
read -r ev_n s_n < <(rate nowait)
printf '%-26s %8s %9s %9s\n' arm events seconds 'events/s'
printf '%-26s %8s %9.2f %9.1f\n' 'waiting, virtual time' "$ev_v" "$s_v" "$(echo "$ev_v / $s_v" | bc -l)"
printf '%-26s %8s %9.2f %9.1f\n' 'no waiting' "$ev_n" "$s_n" "$(echo "$ev_n / $s_n" | bc -l)"
if [ "$real" = 1 ]; then
    read -r ev_r s_r < <(rate real)
    printf '%-26s %8s %9.2f %9.1f\n' 'waiting, real time' "$ev_r" "$s_r" "$(echo "$ev_r / $s_r" | bc -l)"
fi
printf 'waiting/no-waiting events/s ratio (virtual time): %.2f\n' \
    "$(echo "($ev_v / $s_v) / ($ev_n / $s_n)" | bc -l)"
