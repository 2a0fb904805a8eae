#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz build script: the `lifecycle` fuzz target, and beside it in $OUT
# everything it needs at run time, because the runner sees nothing but $OUT:
#
#   $OUT/lifecycle                      the libFuzzer binary (cargo fuzz build)
#   $OUT/lifecycle.charmfuzz/charm/     the charm under test
#   $OUT/lifecycle.charmfuzz/python/    a relocatable Python with the charm's requirements
#                                       (scripts/bundle_python.py)
#   $OUT/lifecycle.charmfuzz/charmfuzz  the charmfuzz binary (the hook-tool executable)
#   $OUT/lifecycle_seed_corpus.zip      seeds, $OUT/lifecycle.dict a dictionary of steps,
#   $OUT/lifecycle.options              the libFuzzer flags charmfuzz needs
#
# The fuzz target finds the bundle from its own path (src/fuzzing/settings.rs, bundle_dir), so no
# environment variable is needed on the runner.
#
# Settings (environment): CHARMFUZZ_BUNDLE_CHARM, the charm directory relative to the
# source tree (default: the demo charm with planted bugs); CHARMFUZZ_BUNDLE_PYTHON, the
# interpreter to bundle (default: python3); CHARMFUZZ_BUNDLE_CORPUS, a directory of seeds
# (default: the project's seeds for the charm, if any).
#
# The bugs charmfuzz hunts are in the charm's Python, not in memory handling, so the target
# is built without a sanitizer (`-s none`) whatever $SANITIZER says.
src="${CHARMFUZZ_SRC:-$SRC/charmfuzz}"
cd "$src"
charm="${CHARMFUZZ_BUNDLE_CHARM:-examples/charms/demo-k8s}"
python="${CHARMFUZZ_BUNDLE_PYTHON:-python3}"
[ -f "$charm/charmcraft.yaml" ] || [ -f "$charm/metadata.yaml" ] ||
    { echo "build.sh: $charm is not a charm (no charmcraft.yaml or metadata.yaml)" >&2; exit 1; }

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo fuzz build -s none -O lifecycle
cargo build --release --bin charmfuzz
triple="$(rustc -vV | sed -n 's/^host: //p')"
cp "fuzz/target/$triple/release/lifecycle" "$OUT/lifecycle"

bundle="$OUT/lifecycle.charmfuzz"
rm -rf "$bundle"
mkdir -p "$bundle"
cp target/release/charmfuzz "$bundle/charmfuzz"
mkdir "$bundle/charm"
tar -C "$charm" --exclude=venv --exclude=.venv --exclude=.git --exclude=__pycache__ \
    --exclude=.tox --exclude=build -cf - . | tar -C "$bundle/charm" -xf -
requirements=(ops)
[ -f "$charm/requirements.txt" ] && requirements=(-r "$charm/requirements.txt")
"$python" scripts/bundle_python.py "$bundle/python" "${requirements[@]}"

source scripts/lib.sh
corpus="${CHARMFUZZ_BUNDLE_CORPUS:-$(seed_dir "$(basename "$charm")")}"
rm -f "$OUT/lifecycle_seed_corpus.zip"
if [ -d "$corpus" ] && [ -n "$(ls -A "$corpus")" ]; then
    "$python" -m zipfile -c "$OUT/lifecycle_seed_corpus.zip" "$corpus"/*
fi
"$bundle/charmfuzz" dict --charm "$charm" -o "$OUT/lifecycle.dict"
cat >"$OUT/lifecycle.options" <<OPTIONS
[libfuzzer]
len_control = 0
max_len = 2048
timeout = 600
rss_limit_mb = 4096
dict = lifecycle.dict
OPTIONS
echo "build.sh: $OUT/lifecycle with $(du -sh "$bundle" | cut -f1) of bundle for $charm"
