#!/usr/bin/env bash
# Survey charms as a new user would meet them: for each charm directory, random stories and a
# short `cargo fuzz run`, then one table row of what the fuzzer got out of the charm.
#
# Usage: scripts/survey.sh [--runs N (30)] [--steps N (12)] [--fuzz-time T (60s)]
#                          [--timeout S (10)] [--out DIR] [--markdown FILE] CHARM_DIR...
#
# Per charm:
#   1. its own Python (`charmfuzz setup`), unless it ships venv/ or CHARMFUZZ_PYTHON is set;
#   2. `charmfuzz random --all` over N stories of N steps: runs/s, events/s, the share of
#      stories none of whose first three hooks failed ("past 3"), signatures by class;
#   3. `cargo fuzz run lifecycle` for T, from an empty corpus: executions, and the finding
#      that ended it if one did (only the charm's own findings end a run);
#   4. `charmfuzz coverage` over the fuzzer's corpus and the random stories' figures: hooks
#      reached of those the charm's metadata makes possible, and lines of src/ run.
# --timeout is the seconds a hook may run: a charm that waits on its workload with real
# sleeps (tenacity, time.sleep) meets it as a hang until time is virtual (issue 28).
# Logs and JSON go to --out (default: a fresh directory under /tmp, printed); the table is
# printed as Markdown (and written to --markdown FILE), for docs/real-charms.md.
#
# A charm's charmfuzz.toml is its own: put it in the charm's directory (docs/real-charms.md
# lists what each surveyed charm needed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

runs=30
steps=12
fuzz_time=60s
timeout=10
out=""
markdown=""
charms=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --fuzz-time) fuzz_time="$2"; shift 2 ;;
        --timeout) timeout="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --markdown) markdown="$2"; shift 2 ;;
        -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "survey: unknown option $1" >&2; exit 2 ;;
        *) charms+=("$1"); shift ;;
    esac
done
# With --out and no charm, only the table of what --out holds (surveys run side by side
# into one directory, then one table).
[ "${#charms[@]}" -gt 0 ] || [ -n "$out" ] ||
    { echo "survey: name at least one charm directory" >&2; exit 2; }
for c in "${charms[@]+"${charms[@]}"}"; do
    [ -d "$c" ] || { echo "survey: no charm directory $c" >&2; exit 2; }
done
secs="$(to_seconds "$fuzz_time")"
[ -n "$out" ] || out="$(mktemp -d /tmp/charmfuzz-survey.XXXXXX)"
mkdir -p "$out"
echo "survey: logs and figures in $out" >&2

if [ "${#charms[@]}" -gt 0 ]; then
    cargo build --release -q --bin charmfuzz
    cargo fuzz build -s none -O lifecycle >"$out/fuzz-build.log" 2>&1 ||
        { tail -20 "$out/fuzz-build.log"; echo "survey: cannot build the fuzz target" >&2; exit 1; }
fi
bin="$PWD/target/release/charmfuzz"

for c in "${charms[@]+"${charms[@]}"}"; do
    dir="$(cd "$c" && pwd)"
    name="$(basename "$dir")"
    # A repository with the charm in a subdirectory (kafka-operator/machine) is named by both.
    if [ "$name" = machine ] || [ "$name" = k8s ]; then name="$(basename "$(dirname "$dir")")-$name"; fi
    w="$out/$name"
    rm -rf "$w"; mkdir -p "$w/corpus" "$w/artifacts"
    echo "$dir" >"$w/dir"
    echo "survey: $name" >&2
    if [ -z "${CHARMFUZZ_PYTHON:-}" ] && [ ! -e "$dir/venv/bin/python" ] && declares_python "$dir"; then
        if ! "$bin" setup --charm "$dir" >"$w/setup.log" 2>&1; then
            echo "setup failed: $(grep -m1 -i 'error' "$w/setup.log" || tail -1 "$w/setup.log")" >"$w/failed"
            continue
        fi
    fi
    status=0
    "$bin" random --charm "$dir" --all --runs "$runs" --steps "$steps" --timeout "$timeout" \
        --json "$w/random.json" \
        >"$w/random.log" 2>&1 || status=$?
    if [ "$status" != 0 ]; then
        echo "random: $(grep -m1 '^error' "$w/random.log" || tail -1 "$w/random.log")" >"$w/failed"
        continue
    fi
    status=0
    CHARMFUZZ_CHARM="$dir" CHARMFUZZ_TIMEOUT="$timeout" cargo fuzz run -s none -O lifecycle "$w/corpus" -- \
        -max_total_time="$secs" -len_control=0 -max_len=2048 -timeout=600 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$w/artifacts/" >"$w/fuzz.log" 2>&1 || status=$?
    echo "$status" >"$w/fuzz.status"
    if [ -n "$(ls "$w/corpus")" ]; then
        "$bin" coverage --charm "$dir" "$w/corpus" --timeout "$timeout" --json "$w/coverage.json" \
            >"$w/coverage.log" 2>&1 || echo "coverage: $(tail -1 "$w/coverage.log")" >"$w/coverage.failed"
    fi
done

python3 - "$out" "$markdown" <<'EOF'
import json, os, re, sys

out, markdown = sys.argv[1], sys.argv[2]
rows = []
head = ('charm', 'runs/s', 'events/s', 'past 3 hooks', 'hooks reached', 'findings charm / env',
        'src lines (fuzz corpus)', 'cargo fuzz')
for name in sorted(os.listdir(out)):
    w = os.path.join(out, name)
    if not os.path.isfile(os.path.join(w, 'dir')):
        continue
    failed = os.path.join(w, 'failed')
    if os.path.exists(failed):
        rows.append((name, '—', '—', '—', '—', '—', '—', open(failed).read().strip()))
        continue
    r = json.load(open(os.path.join(w, 'random.json')))
    cov = os.path.join(w, 'coverage.json')
    c = json.load(open(cov)) if os.path.exists(cov) else None
    log = open(os.path.join(w, 'fuzz.log'), errors='replace').read()
    execs = re.findall(r'stat::number_of_executed_units:\s*(\d+)', log)
    secs = re.findall(r'Done \d+ runs in (\d+) second', log)
    title = re.search(r'^title: (.*)$', log, re.M)
    klass = re.search(r'^class: (.*)$', log, re.M)
    if title:
        fuzz = f"{execs[-1] if execs else '?'} runs, then {klass.group(1) if klass else '?'}: {title.group(1)}"
    elif execs:
        fuzz = f"{execs[-1]} runs, no finding"
    else:
        fuzz = 'did not run: ' + (log.strip().splitlines() or ['?'])[-1][:120]
    # Reached by the random stories or the fuzzer's corpus.
    unreached = set(r['unreached']) & set(c['unreached'] if c else r['unreached'])
    reached = r['hooks_possible'] - len(unreached)
    src = (c or {}).get('lines', {}).get('src') if c else None
    lines = f"{src['covered']}/{src['total']} ({100 * src['covered'] / src['total']:.0f}%)" \
        if src and src['total'] else '—'
    rows.append((
        name,
        f"{r['runs_per_second']:.2f}",
        f"{r['events_per_second']:.1f}",
        f"{100 * r['past_first_three'] / max(r['runs'], 1):.0f}%",
        f"{reached}/{r['hooks_possible']}",
        f"{r['findings']['charm']} / {r['findings']['environment']}",
        lines,
        fuzz.replace('|', '\\|'),
    ))
table = '| ' + ' | '.join(head) + ' |\n|' + '---|' * len(head) + '\n'
table += ''.join('| ' + ' | '.join(row) + ' |\n' for row in rows)
print(table, end='')
if markdown:
    open(markdown, 'w').write(table)
EOF
echo "survey: each charm's signatures and what it lacked: $out/<charm>/random.log" >&2
