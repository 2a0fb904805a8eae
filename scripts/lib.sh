# Helpers the scripts share (sourced, not run).

# A duration as the scripts take it (600, 600s, 10m, 1h) -> seconds.
to_seconds() {
    case "$1" in
        *h) echo $(( ${1%h} * 3600 )) ;;
        *m) echo $(( ${1%m} * 60 )) ;;
        *s) echo "${1%s}" ;;
        *) echo "$1" ;;
    esac
}

# A charm's directory name -> where its seeds live: corpus/lifecycle for the default demo
# charm, corpus/lifecycle-<name> for the others (scripts/make-seeds.sh writes them).
seed_dir() {
    if [ "$1" = demo-k8s ]; then echo corpus/lifecycle; else echo "corpus/lifecycle-$1"; fi
}

# Whether the charm in $1 declares its Python dependencies (what `charmfuzz setup` reads).
declares_python() {
    [ -f "$1/uv.lock" ] || [ -f "$1/poetry.lock" ] || [ -f "$1/requirements.txt" ] \
        || grep -qs '^dependencies *=' "$1/pyproject.toml"
}
