#!/usr/bin/env bash
# Encode the hand-written stories in corpus/stories/<charm>/ into libFuzzer seeds.
#
#   corpus/stories/demo-k8s/*.json      → corpus/lifecycle/            (the default charm)
#   corpus/stories/<name>/*.json        → corpus/lifecycle-<name>/
#
# A story is a charmfuzz trace (docs/trace-format.md). One written as actions only (no
# "events") gets every pending hook delivered after each action; a full trace is replayed
# as it is. Each story is played against the real charm while it is encoded (`encode
# --run`), so the seed decodes in the fuzz target into the story as written, with what the
# charm did steering later choices. A story that ends with a finding on the charm is
# skipped: libFuzzer stops at the first crash while it loads its corpus (such stories are
# reproducers, not seeds: `charmfuzz replay STORY.json`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

cargo build --release -q --bin charmfuzz
bin=target/release/charmfuzz
for dir in corpus/stories/*/; do
    name="$(basename "$dir")"
    charm="examples/charms/$name"
    out="$(seed_dir "$name")"
    mkdir -p "$out"
    for story in "$dir"*.json; do
        seed="$out/$(basename "$story" .json)"
        status=0
        "$bin" encode --run "$story" --charm "$charm" -o "$seed" >/dev/null 2>"$seed.err" || status=$?
        case "$status" in
            0) echo "$seed ($(wc -c <"$seed") bytes) ← $story" ;;
            1) rm -f "$seed"; echo "skipped $story: $(sed 's/^.*: not written: //' "$seed.err")" ;;
            *) cat "$seed.err" >&2; rm -f "$seed.err"; exit 1 ;;
        esac
        rm -f "$seed.err"
    done
done
