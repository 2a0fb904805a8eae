#!/usr/bin/env bash
# Every `§` reference in the repository resolves to a heading of docs/juju-model.md, and
# nothing names the old spec files. See scripts/check_model_refs.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec python3 scripts/check_model_refs.py "$@"
