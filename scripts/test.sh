#!/usr/bin/env bash
# Run every test of the project: formatting, lints, the Rust tests and the demo charms'
# Python tests (which need the virtualenv made by scripts/setup-python.sh).
set -euo pipefail

usage() {
    cat <<USAGE
Usage: scripts/test.sh [--no-python]

Runs, in order: cargo fmt --check, cargo clippy -D warnings, cargo test (release mode: the
engine tests decode many thousands of inputs), and pytest on examples/charms/tests with the
venv at \${CHARMFUZZ_VENV:-<repo>/.venv} (set it up with scripts/setup-python.sh).

Options:
  --no-python   skip the Python tests
  -h, --help    show this help
USAGE
}

python=1
for arg in "$@"; do
    case "$arg" in
        --no-python) python=0 ;;
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
echo "== cargo test"
cargo test --release
if [ "$python" = 1 ]; then
    if [ ! -x "$venv/bin/python" ]; then
        echo "error: no virtualenv at $venv; run scripts/setup-python.sh first" >&2
        exit 1
    fi
    echo "== pytest examples/charms/tests"
    "$venv/bin/python" -m pytest examples/charms/tests -q
fi
