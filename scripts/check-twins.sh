#!/usr/bin/env bash
# The clean demo charms differ from their buggy twins only at the planted bugs (and the
# entries of examples/charms/twins-allowlist.toml). See scripts/check_twins.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec python3 scripts/check_twins.py "$@"
