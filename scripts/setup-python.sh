#!/usr/bin/env bash
# Create or refresh the Python virtualenv charmfuzz uses to run charms and their tests.
#
# The venv holds ops (the charm framework), ops[testing] (Scenario, used by the generated
# reproducers and by examples/charms/tests), pytest, coverage and ruff, and the snap, apt
# and systemd charm libraries from PyPI (the machine-host tests drive them against the
# fake machine).
set -euo pipefail

# Pinned versions. ops 3.9.0 / ops-scenario 8.9.0 are what docs/juju-model.md was written
# against; bump them together and re-run the charm tests.
OPS_VERSION="${CHARMFUZZ_OPS_VERSION:-3.9.0}"
PACKAGES=(
    "ops[testing]==${OPS_VERSION}"
    "pytest>=8,<10"
    "coverage>=7.4,<8"
    "ruff>=0.6,<1"
    "charmlibs-snap>=1.0.1,<2"
    "charmlibs-apt>=1,<2"
    "charmlibs-systemd>=1,<2"
)

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python_bin="python3"
recreate=0
quiet=1

usage() {
    cat <<USAGE
Usage: scripts/setup-python.sh [--python PYTHON] [--recreate] [--verbose]

Create (or bring up to date) the virtualenv charmfuzz uses, and install into it:
  ${PACKAGES[*]}

The venv lives at \${CHARMFUZZ_VENV:-<repo>/.venv} (now: ${CHARMFUZZ_VENV:-$repo_root/.venv}).
Running it again is cheap: packages are reinstalled only when the pinned list or the
interpreter changed. The last line printed is the venv's python path.

Options:
  --python PYTHON   interpreter to build the venv from (default: python3); ops 3.x needs >= 3.10
  --recreate        delete the venv and build it from scratch
  --verbose         show pip's output
  -h, --help        show this help

Environment:
  CHARMFUZZ_VENV          where the venv goes (default: <repo>/.venv)
  CHARMFUZZ_OPS_VERSION   ops version to install (default: ${OPS_VERSION})
USAGE
}

die() {
    echo "setup-python: error: $*" >&2
    exit 1
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --python)
            [[ $# -ge 2 ]] || die "--python needs a value (e.g. --python python3.11)"
            python_bin="$2"
            shift 2
            ;;
        --python=*)
            python_bin="${1#--python=}"
            shift
            ;;
        --recreate) recreate=1; shift ;;
        --verbose|-v) quiet=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done

venv="${CHARMFUZZ_VENV:-$repo_root/.venv}"
log() { echo "setup-python: $*" >&2; }

command -v "$python_bin" >/dev/null 2>&1 \
    || die "'$python_bin' not found on PATH. Install Python 3.10+ (Debian/Ubuntu: apt-get install python3 python3-venv) or pass --python /path/to/python3."

if ! "$python_bin" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
    die "$("$python_bin" -V 2>&1) is too old: ops ${OPS_VERSION} needs Python 3.10 or newer. Pass --python with a newer interpreter."
fi

# Debian/Ubuntu ship the venv module without ensurepip unless python3-venv is installed.
if ! "$python_bin" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    pyver="$("$python_bin" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    die "the Python 'venv' module (or its 'ensurepip' part) is missing for $python_bin.
  Fix on Debian/Ubuntu:  apt-get install python3-venv   (or python${pyver}-venv)
  then run this script again."
fi

venv_python="$venv/bin/python"

if [[ $recreate -eq 1 && -d "$venv" ]]; then
    log "removing $venv"
    rm -rf "$venv"
fi

# A venv whose interpreter no longer runs (python upgraded or removed) is rebuilt.
if [[ -d "$venv" ]] && ! "$venv_python" -c 'pass' >/dev/null 2>&1; then
    log "$venv is broken (its python does not run); rebuilding it"
    rm -rf "$venv"
fi

# A venv built from a different Python minor version than the one asked for is rebuilt.
want_ver="$("$python_bin" -c 'import sys; print(sys.version.split()[0])')"
if [[ -x "$venv_python" ]]; then
    have_ver="$("$venv_python" -c 'import sys; print(sys.version.split()[0])')"
    if [[ "$have_ver" != "$want_ver" ]]; then
        log "$venv uses Python $have_ver but $python_bin is $want_ver; rebuilding it"
        rm -rf "$venv"
    fi
fi

if [[ ! -x "$venv_python" ]]; then
    log "creating venv at $venv with $python_bin ($want_ver)"
    "$python_bin" -m venv "$venv" \
        || die "'$python_bin -m venv $venv' failed. On Debian/Ubuntu: apt-get install python3-venv"
fi

# Stamp: the package list plus the interpreter version. Same stamp → nothing to do.
stamp_file="$venv/.charmfuzz-stamp"
stamp="$(printf '%s\n' "$want_ver" "${PACKAGES[@]}")"
if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]] \
    && "$venv_python" -c 'import ops, ops.testing, pytest, coverage' >/dev/null 2>&1 \
    && [[ -x "$venv/bin/ruff" ]]; then
    log "venv up to date ($("$venv_python" -c 'import ops; print("ops", ops.__version__)'))"
else
    pip_flags=(--disable-pip-version-check)
    [[ $quiet -eq 1 ]] && pip_flags+=(--quiet)
    log "installing ${PACKAGES[*]}"
    "$venv_python" -m pip install "${pip_flags[@]}" --upgrade pip \
        || die "could not upgrade pip in $venv (is PyPI reachable?)"
    "$venv_python" -m pip install "${pip_flags[@]}" "${PACKAGES[@]}" \
        || die "pip install failed (is PyPI reachable?). Re-run with --verbose for details."
    "$venv_python" -c 'import ops, ops.testing, pytest, coverage' \
        || die "packages installed but 'import ops, ops.testing' fails in $venv_python"
    printf '%s\n' "$stamp" >"$stamp_file"
    log "installed $("$venv_python" -c 'import ops; print("ops", ops.__version__)')"
fi

echo "$venv_python"
