#!/usr/bin/env bash
# Run the project's tests, in one of two tiers.
#
# The fast tier (the default, what CI runs through .ci/run) proves that the product works,
# in short form, within 25 minutes on a 2-core machine from a clean clone. `--full` runs
# every check at its full length: run it before you submit a change to the fuzzer, the
# target or the engine, and before a release. Each section prints its time
# (`== section … 212 s`), and the run ends with a table of them and the total.
set -euo pipefail

usage() {
    cat <<USAGE
Usage: scripts/test.sh [--full] [--no-python] [--no-fuzz]

Sections, in order (fast tier / --full where they differ):
  fmt          cargo fmt --check
  clippy       cargo clippy --all-targets --release -D warnings
  actionlint   the GitHub workflow template (scripts/lint-workflows.sh)
  model refs   every § reference resolves to a heading of docs/juju-model.md
               (scripts/check-model-refs.sh)
  twins        each clean demo charm differs from its buggy twin only at the planted bugs
               (scripts/check-twins.sh, allowlist examples/charms/twins-allowlist.toml)
  cargo test   release mode (the engine tests decode many thousands of inputs), the test
               binaries side by side (scripts/cargo-test-parallel.sh); fork and exec
               mode compared on 5 stories per demo charm / 50
  build once   the charmfuzz binary the scripts run is the one cargo test built: nothing
               is compiled a second time
  pytest       examples/charms/tests, with the venv at \${CHARMFUZZ_VENV:-<repo>/.venv}
  reproducers  scripts/check-repros.sh: a planted bug's finding, minimised, gives an
               ops.testing reproducer that fails as found on the buggy charm and passes
               on the clean one; one bug per charm layout (BUG-1 on K8s, M2 on a
               machine, M4 on a snap-based machine charm, whose reproducer plays
               snapd back) / all eight
  cargo fuzz   scripts/fuzz-demo.sh: cargo fuzz finds a planted bug in each demo charm
               and nothing in the clean twins (demo-k8s and demo-machine, 150 runs /
               demo-snap too, 300 runs; a fixed seed), and
               libFuzzer's coverage grows from the charm's Python alone; --full adds
               cargo fuzz tmin and cmin, and -fork=2
  bundle       scripts/check-bundle.sh: the ClusterFuzzLite build runs from a relocated
               \$OUT and finds a planted bug (it reuses the fuzz build above)
  nightly      scripts/check-nightly.sh: the nightly job exits 1 with a reproducer per
               signature on the buggy demo charm (150 runs with 2 processes) / and 0
               on the clean one (five minutes each)

Options:
  --full        every check at its full length (about 40 minutes on 2 cores)
  --no-python   skip the Python tests and the reproducer check
  --no-fuzz     skip the cargo fuzz, bundle and nightly checks
  -h, --help    show this help
USAGE
}

full=0
python=1
fuzz=1
for arg in "$@"; do
    case "$arg" in
        --full) full=1 ;;
        --no-python) python=0 ;;
        --no-fuzz) fuzz=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $arg" >&2; usage >&2; exit 2 ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${CHARMFUZZ_VENV:-$PWD/.venv}"
export CHARMFUZZ_VENV="$venv"

# Timing: each section's seconds, printed as it ends and again in the table at the end
# (also when a section fails, so CI's log says where the time went and what broke).
sections=()
started=$SECONDS
current=""
summary() {
    local status=$?
    echo
    echo "== timings ($([ "$full" = 1 ] && echo full || echo fast) tier)"
    local s
    for s in "${sections[@]}"; do echo "   $s"; done
    [ -z "$current" ] || echo "   $current … FAILED after $((SECONDS - section_start)) s"
    echo "== total … $((SECONDS - started)) s"
}
trap summary EXIT
section() { # name command...
    current="$1"
    shift
    echo "== $current"
    section_start=$SECONDS
    "$@"
    local took=$((SECONDS - section_start))
    echo "== $current … $took s"
    sections+=("$(printf '%-12s %5d s' "$current" "$took")")
    current=""
}

# `cargo build --bin charmfuzz` after `cargo test` must find everything fresh: the scripts
# below run that binary, and a second compile of the release build costs a minute on two
# cores. It would happen if a dev-dependency turned on a feature of a shared crate that
# the normal build leaves off (Cargo.toml's feature-unification block names those).
build_once() {
    local log
    log="$(cargo build --release --bin charmfuzz -v 2>&1)"
    if grep -q '^ *Compiling' <<<"$log"; then
        grep '^ *\(Compiling\|Dirty\)' <<<"$log" >&2
        echo "FAIL: cargo build --bin charmfuzz recompiled what cargo test had built;" \
            "unify the features above in Cargo.toml" >&2
        return 1
    fi
    echo "cargo build --release --bin charmfuzz: fresh after cargo test"
}

if [ "$full" = 1 ]; then
    mode_traces=50
    repro_args=()
    fuzz_args=(--runs 300)
    nightly_args=(--time 5m)
else
    mode_traces=5
    repro_args=(--bugs "BUG-1 M2 M4")
    fuzz_args=(--runs 150 --modes coverage --charms "demo-k8s demo-machine")
    nightly_args=(--runs 150 --no-clean)
fi

section fmt cargo fmt --all -- --check
section clippy cargo clippy --all-targets --release -- -D warnings
section actionlint scripts/lint-workflows.sh
section "model refs" scripts/check-model-refs.sh
section twins scripts/check-twins.sh
section "cargo test" env CHARMFUZZ_MODE_TRACES="$mode_traces" scripts/cargo-test-parallel.sh
section "build once" build_once
if [ "$python" = 1 ]; then
    if [ ! -x "$venv/bin/python" ]; then
        echo "error: no virtualenv at $venv; run scripts/setup-python.sh first" >&2
        exit 1
    fi
    section pytest "$venv/bin/python" -m pytest examples/charms/tests -q
    section reproducers scripts/check-repros.sh "${repro_args[@]}"
fi
if [ "$fuzz" = 1 ]; then
    section "cargo fuzz" scripts/fuzz-demo.sh "${fuzz_args[@]}"
    section bundle scripts/check-bundle.sh
    section nightly scripts/check-nightly.sh "${nightly_args[@]}"
fi
