#!/usr/bin/env bash
# Run every test of the project: formatting, lints, the Rust tests and the demo charms'
# Python tests (which need the virtualenv made by scripts/setup.sh), and the fuzz check.
set -euo pipefail

usage() {
    cat <<USAGE
Usage: scripts/test.sh [--no-python] [--no-fuzz]

Runs, in order: cargo fmt --check, cargo clippy -D warnings, actionlint on the GitHub
workflow template (scripts/lint-workflows.sh), cargo test (release mode: the
engine tests decode many thousands of inputs), and pytest on examples/charms/tests with the
venv at \${CHARMFUZZ_VENV:-<repo>/.venv} (set it up with scripts/setup.sh) and
scripts/check-repros.sh: every planted bug's finding, minimised, gives an ops.testing
reproducer that fails as found on the buggy charm and passes on the clean one; then
scripts/fuzz-demo.sh: cargo fuzz finds the demo charms' planted bugs and nothing in the
clean ones, scripts/check-bundle.sh: the ClusterFuzzLite build runs from its \$OUT, and
scripts/check-nightly.sh: five minutes of the nightly job exit 1 with a reproducer per
signature on the buggy demo charm, and 0 on the clean one.

Options:
  --no-python   skip the Python tests and the reproducer check
  --no-fuzz     skip the cargo fuzz, bundle and nightly checks
  -h, --help    show this help
USAGE
}

python=1
fuzz=1
for arg in "$@"; do
    case "$arg" in
        --no-python) python=0 ;;
        --no-fuzz) fuzz=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $arg" >&2; usage >&2; exit 2 ;;
    esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv="${CHARMFUZZ_VENV:-$PWD/.venv}"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --release -- -D warnings
echo "== actionlint: the nightly workflow template"
scripts/lint-workflows.sh
echo "== cargo test"
cargo test --release
if [ "$python" = 1 ]; then
    if [ ! -x "$venv/bin/python" ]; then
        echo "error: no virtualenv at $venv; run scripts/setup-python.sh first" >&2
        exit 1
    fi
    echo "== pytest examples/charms/tests"
    "$venv/bin/python" -m pytest examples/charms/tests -q
    echo "== reproducers: each planted bug's ops.testing test, on the buggy and the clean charm"
    CHARMFUZZ_VENV="$venv" scripts/check-repros.sh
fi
if [ "$fuzz" = 1 ]; then
    echo "== cargo fuzz: the demo charms' planted bugs"
    scripts/fuzz-demo.sh
    echo "== ClusterFuzzLite: the fuzzer runs from a relocated \$OUT"
    scripts/check-bundle.sh
    echo "== the nightly job: five minutes on the buggy demo charm, then on the clean one"
    scripts/check-nightly.sh
fi
