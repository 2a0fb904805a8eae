#!/usr/bin/env bash
# Encode the hand-written stories in corpus/stories/<charm>/ into libFuzzer seeds.
#
#   corpus/stories/demo-k8s/*.json      → corpus/lifecycle/            (the default charm)
#   corpus/stories/<name>/*.json        → corpus/lifecycle-<name>/
#
# A story is a charmfuzz trace (docs/trace-format.md). One written as actions only (no
# "events") gets every pending hook delivered after each action; a full trace is replayed
# as it is. Seeds are encoded for a run against the real charm, so they decode the same way
# in the fuzz target.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

cargo build --release -q --bin charmfuzz
bin=target/release/charmfuzz
for dir in corpus/stories/*/; do
    name="$(basename "$dir")"
    charm="examples/charms/$name"
    out="corpus/lifecycle-$name"
    [ "$name" = demo-k8s ] && out="corpus/lifecycle"
    mkdir -p "$out"
    for story in "$dir"*.json; do
        seed="$out/$(basename "$story" .json)"
        "$bin" encode "$story" --charm "$charm" -o "$seed" >/dev/null
        echo "$seed ($(wc -c <"$seed") bytes) ← $story"
    done
done
