#!/usr/bin/env bash
# Throughput of the charmfuzz target adapter: fork mode vs exec mode vs ops.testing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
    cat <<'EOF'
Usage: scripts/bench-target.sh [OPTIONS]

Benchmark of the target adapter (not a timed test): runs `charmfuzz run --json --keep-going`
on the same seeds in fork mode and exec mode, pinned to one core with `taskset`, and prints
events per second for each side by side, their ratio, and for reference the same events
(the realised fork-mode traces) run in-process through ops.testing. Then it says whether
the aims are met: fork mode at least 30 times exec mode, and at least 200 events/s on one
core for the Kubernetes demo charm.

Events per second are measured two ways:
  wall ev/s  events / (sum of the commands' wall times - runs x start-up), where start-up is
             the median wall time of a `--steps 0` run (worker start, sandbox, teardown)
  hook ev/s  events / sum of the per-event `seconds` the worker measured (fork to exit)
Fork mode is also run with `--containment none` to show what the bubblewrap sandbox costs
(skipped for charms whose charmfuzz.toml lists host paths under [target] writable, since
without containment they write to this machine; --allow-host-writes runs it anyway).

Options:
  --charm DIR          Charm to benchmark (repeatable; default: examples/charms/demo-k8s-clean
                       and examples/charms/demo-machine-clean)
  --seeds N            Seeds (stories) per charm for fork mode and ops.testing (default 20)
  --first-seed N       First seed (default 1)
  --steps S            Actions per story (default 10)
  --exec-seeds M       Exec mode runs the first M of those seeds, the same traces as fork
                       (default 5, 'all' for every seed; exec costs ~0.5 s per event, so
                       'all' takes several minutes per charm). The fork/exec ratio is computed
                       on these M seeds only.
  --startup-reps N     --steps 0 runs per mode for the start-up estimate (default 3)
  --cpu N              CPU to pin to (default 0)
  --binary PATH        charmfuzz binary (default target/release/charmfuzz)
  --python PATH        Python with ops and ops.testing (default .venv/bin/python)
  --allow-host-writes  Run --containment none even for charms that write host paths
  --keep DIR           Keep every run's JSON in DIR
  --json-out FILE      Also write the raw measurements as JSON
  -h, --help           This help

The default invocation takes about 4 to 5 minutes on a 2-core machine.
EOF
}

args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --allow-host-writes) args+=("$1"); shift ;;
        --charm|--seeds|--first-seed|--steps|--exec-seeds|--startup-reps|--cpu|--binary|--python|--keep|--json-out)
            [[ $# -ge 2 ]] || { echo "bench-target.sh: $1 needs a value" >&2; exit 2; }
            args+=("$1" "$2"); shift 2 ;;
        --*=*)
            args+=("${1%%=*}" "${1#*=}"); shift ;;
        *) echo "bench-target.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

command -v taskset >/dev/null || { echo "bench-target.sh: taskset (util-linux) is needed" >&2; exit 2; }
PY="$ROOT/.venv/bin/python"
[[ -x "$PY" ]] || PY="$(command -v python3)"
cd "$ROOT"
exec "$PY" "$ROOT/scripts/bench_target.py" bench "${args[@]}"
