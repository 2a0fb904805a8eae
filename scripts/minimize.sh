#!/usr/bin/env bash
# Minimise a corpus or a crash.
#
# Usage: scripts/minimize.sh corpus [--charm DIR] [--corpus DIR]
#        scripts/minimize.sh crash ARTIFACT... [--charm DIR]
#
#   corpus   `cargo fuzz cmin`: keep the smallest set of inputs that reaches the same
#            coverage (the charm's lines and lifecycle features); the corpus defaults to
#            the charm's (corpus/lifecycle or corpus/lifecycle-<charm>)
#   crash    `charmfuzz minimize` on each artifact: the shortest story that fails the same
#            way (whole steps cut, choices made plainer, every candidate played against
#            the charm); writes ARTIFACT.min and ARTIFACT.min.json and prints the story.
#            Byte-level `cargo fuzz tmin` also works, but shrinks stories poorly (see
#            scripts/bench-minimize.sh)
#
#   --charm DIR      the charm (default: examples/charms/demo-k8s)
#
# An input is one story whatever found it (the bytes alone say it), so no setting of the
# fuzzing run is needed here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
what="${1:-}"
case "$what" in
    corpus|crash) shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
esac
charm=examples/charms/demo-k8s
corpus=
artifacts=()
while [ $# -gt 0 ]; do
    case "$1" in
        --charm) charm="$2"; shift 2 ;;
        --corpus) corpus="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "minimize: unknown option $1" >&2; exit 2 ;;
        *) artifacts+=("$1"); shift ;;
    esac
done
[ -d "$charm" ] || { echo "minimize: no charm directory $charm" >&2; exit 2; }
charm="$(cd "$charm" && pwd)"
cargo build --release -q --bin charmfuzz

if [ "$what" = corpus ]; then
    corpus="${corpus:-$(seed_dir "$(basename "$charm")")}"
    [ -d "$corpus" ] || { echo "minimize: no corpus directory $corpus" >&2; exit 2; }
    before="$(ls "$corpus" | wc -l)"
    log="$(mktemp)"
    trap 'rm -f "$log"' EXIT
    CHARMFUZZ_CHARM="$charm" \
        cargo fuzz cmin -s none -O lifecycle "$corpus" -- -timeout=600 >"$log" 2>&1 ||
        { tail -20 "$log" >&2; echo "minimize: cmin failed" >&2; exit 1; }
    echo "corpus $corpus: $before -> $(ls "$corpus" | wc -l) inputs"
else
    [ "${#artifacts[@]}" -gt 0 ] || { echo "minimize: crash needs at least one artifact" >&2; exit 2; }
    for a in "${artifacts[@]}"; do
        echo "== $a"
        target/release/charmfuzz minimize --charm "$charm" "$a"
    done
fi
