#!/usr/bin/env bash
# Everything charmfuzz needs on a fresh machine, besides Rust itself:
#   - bubblewrap, the sandbox the charm under test runs in (no network, host read-only);
#   - the Python virtualenv with ops (scripts/setup-python.sh);
#   - cargo-fuzz, the libFuzzer driver (`cargo install cargo-fuzz --locked`).
# Safe to run again: each step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
    cat <<USAGE
Usage: scripts/setup.sh [--no-system]

Install what charmfuzz needs to run charms and its tests:
  bubblewrap   from the system's package manager (apt-get), unless already on PATH
  .venv        via scripts/setup-python.sh (ops, ops[testing], pytest, coverage, ruff)
  cargo-fuzz   via cargo install --locked, unless \`cargo fuzz\` already works

Options:
  --no-system   do not install system packages (the charm then runs uncontained)
  -h, --help    show this help
USAGE
}

system=1
for arg in "$@"; do
    case "$arg" in
        --no-system) system=0 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "setup: unknown option $arg" >&2; usage >&2; exit 2 ;;
    esac
done

if [ "$system" = 1 ] && ! command -v bwrap >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "setup: bubblewrap is missing and I am not root; install it (apt-get install bubblewrap) or use --no-system" >&2
            exit 1
        }
        sudo="sudo"
    fi
    if command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing bubblewrap" >&2
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null ||
            { $sudo apt-get update -q >/dev/null && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null; }
    else
        echo "setup: no apt-get here; install bubblewrap with your package manager" >&2
        exit 1
    fi
fi

scripts/setup-python.sh

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "setup: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked --quiet
fi
