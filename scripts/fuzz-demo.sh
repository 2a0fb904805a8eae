#!/usr/bin/env bash
# Show that `cargo fuzz run lifecycle` finds the planted bugs of the demo charms, and
# nothing in their clean twins, within a bounded number of runs.
#
# Usage: scripts/fuzz-demo.sh [--runs N (300)] [--charms "demo-k8s demo-machine demo-snap"]
#                             [--modes "tmin cmin fork coverage classes"] [--no-modes]
#
# For each buggy demo charm: fuzz from its seeds until the first finding or N runs; the
# run must end with a charmfuzz finding (and a crash artifact). For each clean twin: the
# same budget must end without one. Then libFuzzer's other modes (--modes picks some,
# --no-modes skips them all): `tmin`, cargo fuzz tmin shrinks the first crash artifact, if
# it can, keeping its signature; `cmin`, cargo fuzz cmin merges a corpus; `fork`, -fork=2
# runs two fuzzing processes side by side on a clean charm with no harness error and no
# finding; `coverage`, libFuzzer's coverage figure grows from the charm's Python coverage
# alone; `classes`, on the stand-ins fixture an environment finding (an unscripted exec)
# does not end a run and the charm's own crash does. Builds the fuzz target on stable (`-s none`); needs cargo-fuzz and the Python venv
# (scripts/setup.sh installs both).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

runs=300
modes="tmin cmin fork coverage classes"
charms="demo-k8s demo-machine demo-snap"
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --charms) charms="$2"; shift 2 ;;
        --modes) modes="$2"; shift 2 ;;
        --no-modes) modes=""; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuzz-demo: unknown option $1" >&2; exit 2 ;;
    esac
done

for m in $modes; do
    case "$m" in
        tmin|cmin|fork|coverage|classes) ;;
        *) echo "fuzz-demo: unknown mode $m (tmin cmin fork coverage classes)" >&2; exit 2 ;;
    esac
done

cargo build --release -q --bin charmfuzz
cargo fuzz build -s none -O lifecycle
scripts/make-seeds.sh >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# libFuzzer: whole stories (no length ramp), room for long ones, one input may take a while.
flags=(-runs="$runs" -seed=1 -len_control=0 -max_len=2048 -timeout=600 -rss_limit_mb=4096
       -print_final_stats=1)

fuzz() { # charm expect(finding|clean)
    # A clean twin starts from its buggy twin's seeds (same metadata, same stories).
    local charm="$1" expect="$2" seeds; seeds="$(seed_dir "${1%-clean}")"
    mkdir -p "$work/$charm/corpus" "$work/$charm/artifacts"
    cp "$seeds"/* "$work/$charm/corpus/"
    local log="$work/$charm/log" start=$SECONDS status=0
    CHARMFUZZ_CHARM="$PWD/examples/charms/$charm" CHARMFUZZ_MAX_STEPS=12 \
        cargo fuzz run -s none -O lifecycle "$work/$charm/corpus" -- "${flags[@]}" \
        -artifact_prefix="$work/$charm/artifacts/" >"$log" 2>&1 || status=$?
    local took=$((SECONDS - start))
    local execs; execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)"
    if grep -q '==== charmfuzz finding ====' "$log"; then
        local title; title="$(grep -m1 '^title: ' "$log" | cut -c8-)"
        echo "$charm: finding after ${execs:-?} runs, ${took}s: $title"
        [ "$expect" = finding ] || { tail -60 "$log"; echo "FAIL: $charm is clean but charmfuzz reported a finding" >&2; return 1; }
        ls "$work/$charm/artifacts/"crash-* >/dev/null || { echo "FAIL: no crash artifact for $charm" >&2; return 1; }
        # The finding's printout names its ops.testing reproducer, written next to the
        # artifact (in reproducers/, which cargo fuzz does not take for a failing input).
        local repro; repro="$(ls "$work/$charm/artifacts/reproducers/"test_crash_*.py 2>/dev/null | head -1)"
        [ -n "$repro" ] && grep -q 'Reproducer (an ops.testing test) written to' "$log" ||
            { grep -A3 'eproducer' "$log"; echo "FAIL: no reproducer next to the artifact for $charm" >&2; return 1; }
        echo "$charm: reproducer next to the artifact: reproducers/$(basename "$repro")"
        # The artifact (found with CHARMFUZZ_MAX_STEPS=12) is one story everywhere:
        # replay, minimize and repro give the finding back with no flag and no variable.
        local art; art="$(ls "$work/$charm/artifacts/"crash-* | head -1)"
        local sig; sig="$(sed -n 's/^signature: //p' "$log" | head -1)"
        local bin=./target/release/charmfuzz dir="examples/charms/$charm"
        "$bin" replay --charm "$dir" "$art" >"$work/$charm/replay.log" 2>&1 || true
        grep -qxF "signature: $sig" "$work/$charm/replay.log" ||
            { tail -20 "$work/$charm/replay.log"; echo "FAIL: $charm: replay with no flags lost $sig" >&2; return 1; }
        "$bin" minimize --charm "$dir" -o "$art.min" "$art" >"$work/$charm/min.log" 2>&1 ||
            { tail -20 "$work/$charm/min.log"; echo "FAIL: $charm: minimize with no flags" >&2; return 1; }
        "$bin" repro --charm "$dir" --check -o "$work/$charm/test_repro.py" "$art.min" >"$work/$charm/repro.log" 2>&1 ||
            { tail -20 "$work/$charm/repro.log"; echo "FAIL: $charm: repro --check with no flags" >&2; return 1; }
        echo "$charm: replay, minimize ($(sed -n 's/^minimized: \(.*\) steps.*/\1/p' "$work/$charm/min.log" | head -1) steps) and repro --check with no flags: $sig"
    else
        echo "$charm: no finding in ${execs:-?} runs, ${took}s (exit $status)"
        if [ "$expect" = finding ] || [ "$status" != 0 ]; then
            tail -40 "$log"; echo "FAIL: $charm: expected $expect" >&2; return 1
        fi
    fi
}

for c in $charms; do
    fuzz "$c" finding
    fuzz "$c-clean" clean
done
wants() { [[ " $modes " == *" $1 "* ]]; }
first="$(echo $charms | cut -d' ' -f1)"

# `cargo fuzz tmin`: libFuzzer's crash minimisation, one child process per attempt. Each
# attempt must hunt the finding it was given (the fuzz target pins its signature: libFuzzer
# alone would take any crash, often a shallower bug), and what tmin leaves must fail with
# that signature: a smaller input, or the artifact itself when no smaller one fails the
# same way within the attempt's runs (a story whose every step is needed).
if wants tmin; then
    artifact="$(ls "$work/$first/artifacts/"crash-* | head -1)"
    signature() { # charm input (`run` exits 1 on a finding, as it should here)
        { ./target/release/charmfuzz run --charm "examples/charms/$1" \
            --input "$2" || true; } | sed -n 's/^signature: //p'
    }
    before="$(signature "$first" "$artifact")"
    [ -n "$before" ] || { echo "FAIL: the artifact $artifact replays with no finding" >&2; exit 1; }
    CHARMFUZZ_CHARM="$PWD/examples/charms/$first" CHARMFUZZ_MAX_STEPS=12 \
        cargo fuzz tmin -s none -O -r 32 lifecycle "$artifact" >"$work/tmin.log" 2>&1 ||
        { tail -30 "$work/tmin.log"; echo "FAIL: cargo fuzz tmin failed" >&2; exit 1; }
    grep -qxF "charmfuzz: minimising, keeping $before" "$work/tmin.log" ||
        { tail -30 "$work/tmin.log"; echo "FAIL: tmin's attempts did not hunt $before" >&2; exit 1; }
    small="$(ls -t fuzz/artifacts/lifecycle/minimized-from-* 2>/dev/null | head -1 || true)"
    if [ -z "$small" ]; then
        grep -q "CRASH_MIN: failed to minimize beyond $artifact" "$work/tmin.log" ||
            { tail -30 "$work/tmin.log"; echo "FAIL: cargo fuzz tmin wrote no minimized-from-* file" >&2; exit 1; }
        small="$artifact"
fi
after="$(signature "$first" "$small")"
note=""; [ "$small" != "$artifact" ] || note=" (no smaller input fails the same way)"
echo "cargo fuzz tmin: $(stat -c %s "$artifact") -> $(stat -c %s "$small") bytes$note, signature kept: $after"
[ "$before" = "$after" ] || { echo "FAIL: tmin changed the finding ($before -> $after)" >&2; exit 1; }
[ "$small" = "$artifact" ] || rm -f "$small"
fi

# `cargo fuzz cmin`: libFuzzer's merge over the corpus the clean run grew.
if wants cmin; then
    corpus="$work/$first-clean/corpus"
    n_before="$(ls "$corpus" | wc -l)"
    CHARMFUZZ_CHARM="$PWD/examples/charms/$first-clean" CHARMFUZZ_MAX_STEPS=12 \
        cargo fuzz cmin -s none -O lifecycle "$corpus" >"$work/cmin.log" 2>&1 ||
        { tail -30 "$work/cmin.log"; echo "FAIL: cargo fuzz cmin failed" >&2; exit 1; }
    n_after="$(ls "$corpus" | wc -l)"
    echo "cargo fuzz cmin: $n_before -> $n_after inputs"
    [ "$n_after" -gt 0 ] && [ "$n_after" -le "$n_before" ] || { echo "FAIL: cmin left $n_after inputs" >&2; exit 1; }
fi

# -fork=2: two fuzzing processes at once, each with its own sandbox, sockets and bitmap.
# Jobs start two at a time and report when they end (job N fuzzes for about N seconds after
# loading its share of the corpus), so the budget leaves room for several on a busy machine;
# the small seed corpus keeps each job's loading short.
if wants fork; then
    mkdir -p "$work/fork/corpus"
    cp "$(seed_dir "$first")"/* "$work/fork/corpus/"
    status=0
    CHARMFUZZ_CHARM="$PWD/examples/charms/$first-clean" CHARMFUZZ_MAX_STEPS=12 \
        cargo fuzz run -s none -O lifecycle "$work/fork/corpus" -- -fork=2 -max_total_time=120 \
        -len_control=0 -max_len=2048 -timeout=600 -artifact_prefix="$work/fork/" \
        >"$work/fork/log" 2>&1 || status=$?
    # The parent prints a line per finished job: "#N: cov: … oom/timeout/crash: 0/0/0 … job: 3".
    jobs="$(grep -c 'oom/timeout/crash: .* job: [0-9]' "$work/fork/log" || true)"
    last="$(grep 'oom/timeout/crash: ' "$work/fork/log" | tail -1)"
    echo "-fork=2: exit $status, $jobs jobs; last: $last"
    if [ "$status" != 0 ] || [ "$jobs" -lt 2 ] || ! echo "$last" | grep -q 'oom/timeout/crash: 0/0/0' ||
        grep -q 'harness error\|==== charmfuzz finding ====' "$work/fork/log"; then
        # A job that failed has its whole log copied in after "log from the inner process";
        # show what it said (a finding's story, a harness error, a signal) rather than only
        # the parent's last status lines.
        grep -n -m3 -A60 '==== charmfuzz finding ====\|harness error\|ERROR: libFuzzer\|panicked at' \
            "$work/fork/log" | head -150 || true
        tail -15 "$work/fork/log"
        # The input itself, so the finding can be replayed from the CI log alone
        # (base64 -d > crash && charmfuzz replay --charm … crash).
        for a in "$work"/fork/crash-* "$work"/fork/timeout-*; do
            [ -e "$a" ] && echo "artifact $(basename "$a") (base64): $(base64 -w0 "$a")"
        done
        echo "FAIL: -fork=2 on a clean charm" >&2; exit 1
fi
fi

# libFuzzer's coverage grows from the charm's Python alone: the harness's Rust edges are
# zeroed after every input, and CHARMFUZZ_FEEDBACK=code leaves out the lifecycle features,
# so whatever coverage libFuzzer counts is the charm's. The same run without feedback is
# the baseline (what is left: the few edges of the return path after the zeroing).
final_cov() { # feedback -> the cov: figure of libFuzzer's last status line
    mkdir -p "$work/cov-$1"
    CHARMFUZZ_CHARM="$PWD/examples/charms/$first-clean" CHARMFUZZ_MAX_STEPS=12 CHARMFUZZ_FEEDBACK="$1" \
        cargo fuzz run -s none -O lifecycle "$work/cov-$1" -- -runs=60 -seed=1 -len_control=0 \
        -max_len=2048 -timeout=600 >"$work/cov-$1.log" 2>&1 ||
        { tail -30 "$work/cov-$1.log"; echo "FAIL: fuzzing with CHARMFUZZ_FEEDBACK=$1" >&2; exit 1; }
    grep -o 'cov: [0-9]*' "$work/cov-$1.log" | tail -1 | grep -o '[0-9]*'
}
if wants coverage; then
    blind="$(final_cov 0)"
    python="$(final_cov code)"
    echo "coverage from the charm's Python alone: cov $blind without feedback, $python with (60 runs)"
    [ "$python" -ge $((blind + 50)) ] ||
        { echo "FAIL: the charm's coverage did not reach libFuzzer ($blind -> $python)" >&2; exit 1; }
fi
# Finding classes in a real `cargo fuzz run`: the stand-ins fixture's workload binary has no
# scripted answer, so pebble-ready fails on charmfuzz's world, not the charm's. With its
# actions weighted out, the run must report that environment finding (with its fix) and
# go on to its last run; with them, it must end on the charm's own crash, class charm.
if wants classes; then
    fixture="$PWD/tests/fixtures/charms/stand-ins"
    mkdir -p "$work/classes/env" "$work/classes/charm"
    cp -r "$fixture" "$work/classes/no-actions"
    printf '[weights]\nrun-action = 0\n' >"$work/classes/no-actions/charmfuzz.toml"
    status=0
    CHARMFUZZ_CHARM="$work/classes/no-actions" CHARMFUZZ_MAX_STEPS=12 \
        cargo fuzz run -s none -O lifecycle "$work/classes/env" -- -runs=100 -seed=1 \
        -len_control=0 -max_len=2048 -timeout=600 -artifact_prefix="$work/classes/env-" \
        >"$work/classes/env.log" 2>&1 || status=$?
    grep -q '^charmfuzz: environment finding, not the charm.s (fuzzing goes on): ' "$work/classes/env.log" &&
        grep -q 'lacked: .*app-cli' "$work/classes/env.log" && [ "$status" = 0 ] &&
        grep -q 'Done 100 runs' "$work/classes/env.log" &&
        ! grep -q '==== charmfuzz finding ====' "$work/classes/env.log" ||
        { tail -40 "$work/classes/env.log"; echo "FAIL: an environment finding ended the run, or was not reported" >&2; exit 1; }
    status=0
    CHARMFUZZ_CHARM="$fixture" CHARMFUZZ_MAX_STEPS=12 \
        cargo fuzz run -s none -O lifecycle "$work/classes/charm" -- -runs=2000 -seed=1 \
        -len_control=0 -max_len=2048 -timeout=600 -artifact_prefix="$work/classes/charm-" \
        >"$work/classes/charm.log" 2>&1 || status=$?
    grep -q '==== charmfuzz finding ====' "$work/classes/charm.log" &&
        grep -q '^class: charm' "$work/classes/charm.log" && [ "$status" != 0 ] ||
        { tail -40 "$work/classes/charm.log"; echo "FAIL: the charm's own crash did not end the run as a charm finding" >&2; exit 1; }
    echo "classes: environment finding reported, run went on to 100 runs; charm finding ended the run: $(grep -m1 '^title: ' "$work/classes/charm.log" | cut -c8-)"
fi
echo "fuzz-demo: ok"
