#!/usr/bin/env bash
# Prove the ClusterFuzzLite build works the way a runner uses it: run
# .clusterfuzzlite/build.sh with OSS-Fuzz's variables into a temporary $OUT, move $OUT
# elsewhere (the bundle must be relocatable), then run the fuzzer from there in a clean
# environment (env -i, another working directory, nothing from the build on PATH) with
# the options and seed corpus the build wrote, as a runner would, and check that it finds
# a planted bug of the demo charm with the bundled charm and Python.
#
# Usage: scripts/check-bundle.sh [--runs N]   (default 500 inputs at most)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
runs=500
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "check-bundle: unknown option $1" >&2; exit 2 ;;
    esac
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src" "$tmp/out" "$tmp/work" "$tmp/elsewhere" "$tmp/home"
ln -s "$PWD" "$tmp/src/charmfuzz"
# The variables OSS-Fuzz's builder sets (those build.sh reads, and the usual others).
# CHARMFUZZ_BUNDLE_PYTHON: the project's venv interpreter, whose ops is the one tested.
env SRC="$tmp/src" OUT="$tmp/out" WORK="$tmp/work" SANITIZER=address \
    FUZZING_ENGINE=libfuzzer FUZZING_LANGUAGE=rust ARCHITECTURE=x86_64 \
    CHARMFUZZ_BUNDLE_PYTHON="${CHARMFUZZ_VENV:-$PWD/.venv}/bin/python" \
    bash .clusterfuzzlite/build.sh >"$tmp/build.log" 2>&1 ||
    { tail -30 "$tmp/build.log"; echo "FAIL: build.sh" >&2; exit 1; }
tail -1 "$tmp/build.log"

# Relocate: nothing may point back into the build tree.
mv "$tmp/out" "$tmp/runner-out"
out="$tmp/runner-out"
mkdir -p "$tmp/elsewhere/corpus"
# Unpacking the seeds is the runner's job; any Python does it.
python3 -m zipfile -e "$out/lifecycle_seed_corpus.zip" "$tmp/elsewhere/corpus"

# The options file, as libFuzzer flags (a dictionary named relative to $OUT).
flags=()
while IFS='=' read -r key value; do
    key="${key// /}"; value="${value// /}"
    [ -z "$key" ] || [ "${key:0:1}" = "[" ] && continue
    [ "$key" = dict ] && value="$out/$value"
    flags+=("-$key=$value")
done <"$out/lifecycle.options"

status=0
(cd "$tmp/elsewhere" && env -i PATH=/usr/bin:/bin HOME="$tmp/home" \
    "$out/lifecycle" -runs="$runs" -seed=1 "${flags[@]}" -artifact_prefix="$tmp/elsewhere/" \
    corpus >"$tmp/run.log" 2>&1) || status=$?
grep -m1 '^charmfuzz: charm' "$tmp/run.log" || true
finding="$(grep -m1 -A1 '==== charmfuzz finding ====' "$tmp/run.log" | tail -1 || true)"
echo "runner: exit $status; ${finding:-no finding}"
fail() { tail -30 "$tmp/run.log"; echo "FAIL: $1" >&2; exit 1; }
grep -q "^charmfuzz: charm $out/lifecycle.charmfuzz/charm .*($out/lifecycle.charmfuzz/python/bin/python3)" \
    "$tmp/run.log" || fail "the fuzzer did not run the bundled charm with the bundled Python"
[ -n "$finding" ] || fail "no planted bug found from \$OUT in $runs runs"
ls "$tmp/elsewhere"/crash-* >/dev/null 2>&1 || fail "no crash artifact written"
echo "check-bundle: ok (the fuzzer ran from a relocated \$OUT and found a planted bug)"
